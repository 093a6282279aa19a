"""The task-graph rules every DAG user shares (bricktasks/dag): keys, cycles, run_if, the run's verdict,
and the runs/submit body a RunSpec becomes."""
from __future__ import annotations

import itertools

import pytest

from bricktasks.backends.base import ExistingCluster, NewCluster, NotebookTask, RunSpec, Serverless, compute_from_task_fields
from bricktasks.backends.submit_json import submit_body
from bricktasks.dag.graph import GraphError, check_graph, check_task_key, downstream_of, leaves, topological_order, upstream_of
from bricktasks.dag.outcomes import RUN, RUN_IF_VALUES, decide, run_verdict


def test_a_valid_graph_gives_an_order_with_each_task_after_its_dependencies():
    order = check_graph([("evaluate", ["train", "prepare"]), ("train", ["prepare"]), ("prepare", [])])
    assert order.index("prepare") < order.index("train") < order.index("evaluate")


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([("a", []), ("a", [])], "task_key 'a' is used by more than one task"),
        ([("a", ["b"])], "task 'a' depends on 'b', which is not a task of this run"),
        ([("a", ["a"])], "task 'a' depends on itself"),
        ([("a", []), ("b", ["a", "a"])], "task 'b' names 'a' twice in depends_on"),
        ([("", [])], "every task needs a task_key"),
        ([("a/../b", [])], "must be 1 to 100 characters"),
        ([("x" * 101, [])], "must be 1 to 100 characters"),
        ([("<script>", [])], "must be 1 to 100 characters"),
    ],
)
def test_a_malformed_graph_is_refused_with_the_task_named(tasks, message):
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_graph(tasks)


def test_a_cycle_is_refused_showing_the_whole_loop():
    with pytest.raises(GraphError) as raised:
        check_graph([("prepare", ["evaluate"]), ("train", ["prepare"]), ("evaluate", ["train"]), ("other", [])])
    message = str(raised.value)
    assert "cycle" in message and "b depends on a" in message
    loop = message.split(": ", 1)[1].split(" (")[0].split(" -> ")
    assert loop[0] == loop[-1] and set(loop) == {"prepare", "train", "evaluate"}
    for upstream, downstream in itertools.pairwise(loop):  # each arrow is a real dependency
        assert upstream in dict([("prepare", ["evaluate"]), ("train", ["prepare"]), ("evaluate", ["train"])])[downstream]


def test_a_long_chain_needs_no_recursion():
    chain = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert topological_order(chain)[:3] == ["t0", "t1", "t2"]


def test_graph_helpers():
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert downstream_of(graph, ["a"]) == {"b", "c"}
    assert upstream_of(graph, "c") == {"a", "b"}
    assert leaves(graph) == ["c", "d"]
    assert check_task_key("Model_Training-2") == "Model_Training-2"


@pytest.mark.parametrize(
    ("run_if", "upstream", "expected"),
    [
        ("ALL_SUCCESS", ["SUCCESS", "SUCCESS"], RUN),
        ("ALL_SUCCESS", ["SUCCESS", "FAILED"], "UPSTREAM_FAILED"),
        ("ALL_SUCCESS", ["UPSTREAM_FAILED"], "UPSTREAM_FAILED"),
        ("AT_LEAST_ONE_SUCCESS", ["SUCCESS", "FAILED"], RUN),
        ("AT_LEAST_ONE_SUCCESS", ["FAILED", "TIMEDOUT"], "UPSTREAM_FAILED"),
        ("NONE_FAILED", ["SUCCESS", "EXCLUDED"], RUN),
        ("NONE_FAILED", ["SUCCESS", "FAILED"], "UPSTREAM_FAILED"),
        ("ALL_DONE", ["FAILED", "SUCCESS"], RUN),
        ("ALL_DONE", ["CANCELED"], RUN),
        ("AT_LEAST_ONE_FAILED", ["FAILED", "SUCCESS"], RUN),
        ("AT_LEAST_ONE_FAILED", ["SUCCESS"], "EXCLUDED"),
        ("ALL_FAILED", ["FAILED", "TIMEDOUT"], RUN),
        ("ALL_FAILED", ["FAILED", "SUCCESS"], "EXCLUDED"),
        ("ALL_SUCCESS", ["EXCLUDED"], "EXCLUDED"),  # all dependencies excluded: excluded whatever run_if says
        ("ALL_DONE", ["EXCLUDED", "EXCLUDED"], "EXCLUDED"),
        ("ALL_SUCCESS", ["CANCELED"], "UPSTREAM_CANCELED"),
        ("AT_LEAST_ONE_FAILED", ["CANCELED", "FAILED"], RUN),  # failure handlers still run after a cancel
    ],
)
def test_run_if_decides_from_the_upstream_results(run_if, upstream, expected):
    assert run_if in RUN_IF_VALUES
    assert decide(run_if, upstream) == expected


def test_a_task_without_dependencies_always_runs_and_an_unknown_run_if_is_an_error():
    assert decide("ALL_FAILED", []) == RUN
    with pytest.raises(ValueError, match="unknown run_if"):
        decide("SOMETIMES", ["SUCCESS"])


def test_the_leaves_decide_the_run():
    graph = {"prepare": [], "train": ["prepare"], "notify": ["train"]}
    ok = run_verdict({"prepare": "SUCCESS", "train": "SUCCESS", "notify": "SUCCESS"}, graph)
    assert (ok.life_cycle_state, ok.result_state) == ("TERMINATED", "SUCCESS")
    handled = run_verdict({"prepare": "SUCCESS", "train": "FAILED", "notify": "SUCCESS"}, graph)
    assert handled.result_state == "SUCCESS_WITH_FAILURES"
    failed = run_verdict({"prepare": "FAILED", "train": "UPSTREAM_FAILED", "notify": "UPSTREAM_FAILED"}, graph)
    assert (failed.life_cycle_state, failed.result_state) == ("INTERNAL_ERROR", "FAILED")  # as on Databricks
    assert failed.state_message.startswith("Task prepare failed with message: Workload failed")
    assert "downstream tasks to get skipped" in failed.state_message
    excluded_leaf = run_verdict({"prepare": "SUCCESS", "train": "SUCCESS", "notify": "EXCLUDED"}, graph)
    assert excluded_leaf.result_state == "SUCCESS"  # EXCLUDED counts as a success
    cancelled = run_verdict({"prepare": "SUCCESS", "train": "CANCELED", "notify": "UPSTREAM_CANCELED"}, graph)
    assert cancelled.result_state == "CANCELED"


def test_compute_kinds_round_trip_through_the_task_fields():
    for compute in (NewCluster({"spark_version": "15.4.x-scala2.12", "instance_pool_id": "pool-1", "num_workers": 2}),
                    ExistingCluster("0402-140904-bpdh4b7s"), Serverless("default")):
        assert compute_from_task_fields(compute.to_task_fields()) == compute
    assert compute_from_task_fields({}) is None
    assert Serverless().to_task_fields() == {}


def test_the_submit_body_names_each_tasks_compute_and_keeps_libraries_off_serverless():
    wheel = {"whl": "dbfs:/x/regimecast-1.0-py3-none-any.whl"}
    spec = RunSpec(
        run_name="CI-7-main",
        tasks=(
            NotebookTask("prepare", "/p/PrepareData"),
            NotebookTask("train", "/p/ModelTraining", depends_on=("prepare",), compute=NewCluster({"spark_version": "15.4"}),
                         max_retries=1, timeout_seconds=600),
            NotebookTask("evaluate", "/p/Evaluate", depends_on=("train",), run_if="ALL_DONE", compute=Serverless("env")),
        ),
        libraries=(wheel,),
        timeout_seconds=1500,
        environments=({"environment_key": "env", "spec": {"environment_version": "4"}},),
        performance_target="PERFORMANCE_OPTIMIZED",
        idempotency_token="t" * 64,
    )
    body = submit_body(spec)
    prepare, train, evaluate = body["tasks"]
    assert prepare == {"task_key": "prepare", "notebook_task": {"notebook_path": "/p/PrepareData", "source": "WORKSPACE"},
                       "timeout_seconds": 1500}  # serverless: no compute fields, no libraries
    assert train["new_cluster"] == {"spark_version": "15.4"} and train["libraries"] == [wheel]
    assert train["depends_on"] == [{"task_key": "prepare"}] and train["max_retries"] == 1 and train["timeout_seconds"] == 600
    assert evaluate["environment_key"] == "env" and evaluate["run_if"] == "ALL_DONE" and "libraries" not in evaluate
    assert body["environments"][0]["environment_key"] == "env" and body["performance_target"] == "PERFORMANCE_OPTIMIZED"
    assert "tags" not in body  # runs/submit has none


def test_the_run_quotes_why_a_task_failed_before_running():
    graph = {"prepare": [], "train": ["prepare"]}
    verdict = run_verdict({"prepare": "FAILED", "train": "UPSTREAM_FAILED"}, graph, {"prepare": "Library installation failed: x."})
    assert verdict.state_message == (
        "Task prepare failed with message: Library installation failed: x. This caused all downstream tasks to get skipped."
    )
