"""Multi-task runs over the emulator, seen through real clients: the real API's refusals, the settings
echoed in runs/get as databricks-sdk parses them, a failing upstream, cluster start-up and repair.

Tiny notebooks (no Spark) on module-scoped emulators: the refusals start nothing, and each run
here costs a fraction of a second per task.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests
from databricks.sdk.errors import InvalidParameterValue, OperationFailed
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ImportFormat

from bricktasks.backends.base import NewCluster, NotebookTask, RunSpec, Serverless
from bricktasks.backends.submit_json import submit_body
from bricktasks.runs.supervise import supervise_run
from bricktasks.testing.emulator import EmulatorProcess, databricks_backend, start_emulator, workspace_client

TOKEN = "dag-token"
HEADER = b"# Databricks notebook source\n"
SUCCEEDS = HEADER + b'dbutils.notebook.exit("ok")\n'
SLOW = HEADER + b'import time\ntime.sleep(1)\n'
FAILS = HEADER + b'raise RuntimeError("prepare broke")\n'
NOTEBOOK = "/Projects/dag/ok"
POOL_CLUSTER = {"spark_version": "15.4.x-scala2.12", "instance_pool_id": "pool-1234", "num_workers": 0}
NO_COMPUTE = "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified."
NO_COMPUTE_2_0 = "Either new_cluster or existing_cluster_id must be specified."
SERVERLESS_LIBRARIES = "Libraries field is not supported for serverless task, please specify libraries in environment."


def _task(key: str, **fields) -> dict:
    return {"task_key": key, "notebook_task": {"notebook_path": NOTEBOOK}, **fields}


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    return session


def _wait(w, run_id: int, until, timeout: float = 60.0) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while True:
        run = w.jobs.get_run(run_id)
        if until(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} never reached the state asked for: {run.state}"
        time.sleep(0.05)


def _terminal(run: jobs.Run) -> bool:
    return run.state.life_cycle_state in (jobs.RunLifeCycleState.TERMINATED, jobs.RunLifeCycleState.INTERNAL_ERROR)


# -- refusals: 400 INVALID_PARAMETER_VALUE, and nothing started ----------------------------------------
@pytest.fixture(scope="module")
def refusing(tmp_path_factory):
    """An emulator that only ever receives invalid submits (so runs/list must stay empty)."""
    with start_emulator(tmp_path_factory.mktemp("refusals") / "root", token=TOKEN) as emulator:
        emulator.backend.mkdirs("/Projects/dag")
        emulator.backend.import_object(NOTEBOOK + ".py", SUCCEEDS)
        yield emulator


REFUSED = [
    ("cycle", [_task("a", depends_on=[{"task_key": "b"}]), _task("b", depends_on=[{"task_key": "a"}])], "cycle"),
    ("unknown depends_on", [_task("a", depends_on=[{"task_key": "ghost"}])], "'ghost', which is not a task"),
    ("duplicate task_key", [_task("a"), _task("a")], "'a' is used by more than one task"),
    ("two computes", [_task("a", new_cluster=POOL_CLUSTER, existing_cluster_id="0101-abc")], "more than one compute"),
    ("unknown environment", [_task("a", environment_key="gpu")], "environment_key 'gpu' names no entry"),
    ("serverless libraries", [_task("a", libraries=[{"pypi": {"package": "requests"}}])], SERVERLESS_LIBRARIES),
    ("unknown run_if", [_task("a"), _task("b", depends_on=[{"task_key": "a"}], run_if="SOMETIMES")], "run_if 'SOMETIMES'"),
    ("job_cluster_key", [_task("a", job_cluster_key="main")], "job_cluster_key is not supported by runs/submit"),
]


@pytest.mark.parametrize("case, tasks, message", REFUSED, ids=[case for case, _, _ in REFUSED])
def test_invalid_submits_are_refused_like_the_real_api_and_start_nothing(refusing, case, tasks, message):
    with _session() as session:
        answer = session.post(f"{refusing.url}/api/2.2/jobs/runs/submit", json={"run_name": case, "tasks": tasks}, timeout=30)
        assert answer.status_code == 400
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert message in answer.json()["message"]
        listed = session.get(f"{refusing.url}/api/2.2/jobs/runs/list", timeout=30).json()
    assert "runs" not in listed and not listed["has_more"]


def test_run_level_refusals_job_clusters_and_performance_target(refusing):
    with _session() as session:
        for body, message in (
            ({"tasks": [_task("a")], "job_clusters": [{"job_cluster_key": "main", "new_cluster": POOL_CLUSTER}]}, "job_clusters"),
            ({"tasks": [_task("a")], "performance_target": "TURBO"}, "performance_target 'TURBO'"),
        ):
            answer = session.post(f"{refusing.url}/api/2.2/jobs/runs/submit", json=body, timeout=30)
            assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
            assert message in answer.json()["message"]
        assert "runs" not in session.get(f"{refusing.url}/api/2.2/jobs/runs/list", timeout=30).json()


def test_the_sdk_raises_invalid_parameter_value_for_a_cycle(refusing):
    w = workspace_client(refusing.url, TOKEN)
    loop = [
        jobs.SubmitTask(task_key=key, notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK),
                        depends_on=[jobs.TaskDependency(task_key=other)])
        for key, other in (("a", "b"), ("b", "a"))
    ]
    with pytest.raises(InvalidParameterValue, match="cycle"):
        w.jobs.submit(run_name="loop", tasks=loop)
    assert list(w.jobs.list_runs()) == []


# -- no serverless, and cluster start-up: the process and its flags --------------------------------------
def test_no_serverless_refuses_tasks_without_a_cluster_and_cluster_start_keeps_new_clusters_pending(tmp_path):
    with EmulatorProcess(tmp_path / "root", token=TOKEN, serverless=False, cluster_start_s=1.5, cluster_id="0101-abc") as emulator:
        w = workspace_client(emulator.url, TOKEN)
        w.workspace.mkdirs("/Projects/dag")
        w.workspace.upload(NOTEBOOK + ".py", SUCCEEDS, format=ImportFormat.AUTO)
        with _session() as session:
            for version, body, message in (
                ("2.2", {"tasks": [_task("a")]}, NO_COMPUTE),
                ("2.1", {"tasks": [_task("a")]}, NO_COMPUTE),
                ("2.2", {"tasks": [_task("a", environment_key="e")],
                         "environments": [{"environment_key": "e", "spec": {"environment_version": "4"}}]}, NO_COMPUTE),
                ("2.0", {"run_name": "old", "notebook_task": {"notebook_path": NOTEBOOK}}, NO_COMPUTE_2_0),
            ):
                answer = session.post(f"{emulator.url}/api/{version}/jobs/runs/submit", json=body, timeout=30)
                assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
                assert answer.json()["message"] == message
            assert "runs" not in session.get(f"{emulator.url}/api/2.2/jobs/runs/list", timeout=30).json()
        # a task on an existing cluster starts at once; one on a new (pool) cluster waits for it
        waiter = w.jobs.submit(run_name="startup", tasks=[
            jobs.SubmitTask(task_key="existing", existing_cluster_id="0101-abc", notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK)),
            jobs.SubmitTask(task_key="pooled", new_cluster=compute.ClusterSpec.from_dict(POOL_CLUSTER),
                            notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK)),
        ])

        def pooled(run: jobs.Run) -> jobs.RunTask:
            return next(task for task in run.tasks if task.task_key == "pooled")

        def existing_done_pooled_pending(run: jobs.Run) -> bool:
            existing = next(task for task in run.tasks if task.task_key == "existing")
            return existing.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED and (
                pooled(run).state.life_cycle_state == jobs.RunLifeCycleState.PENDING
            )

        waiting = _wait(w, waiter.run_id, existing_done_pooled_pending)
        assert pooled(waiting).status.state == jobs.RunLifecycleStateV2State.PENDING
        assert pooled(waiting).state.state_message == "Waiting for cluster"
        ended = waiter.result(timeout=timedelta(seconds=60))
        assert ended.state.result_state == jobs.RunResultState.SUCCESS
        assert pooled(ended).state.result_state == jobs.RunResultState.SUCCESS
        assert pooled(ended).setup_duration == 1500  # the modelled start-up
        assert re.fullmatch(r"\d{4}-\d{6}-[a-z0-9]{8}", pooled(ended).cluster_instance.cluster_id)
        existing = next(task for task in ended.tasks if task.task_key == "existing")
        assert existing.cluster_instance.cluster_id == "0101-abc" and existing.setup_duration == 0
        assert pooled(ended).run_duration == pooled(ended).setup_duration + pooled(ended).execution_duration


# -- a DAG whose upstream fails: what the SDK and our supervision read back --------------------------------
@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    # the existing cluster some tasks name is the emulated one
    with start_emulator(tmp_path_factory.mktemp("dag") / "root", token=TOKEN, cluster_id="0101-abc") as handle:
        handle.backend.mkdirs("/Projects/dag")
        handle.backend.import_object(NOTEBOOK + ".py", SUCCEEDS)
        handle.backend.import_object("/Projects/dag/fails.py", FAILS)
        yield handle


@pytest.fixture(scope="module")
def w(emulator):
    return workspace_client(emulator.url, TOKEN)


@pytest.fixture(scope="module")
def failed_dag(w):
    """prepare (serverless, its environment; fails twice: one retry) -> train (pool cluster, a library,
    NONE_FAILED) -> report (existing cluster, run_if left to its default): submitted with the SDK,
    waited for with the SDK's own waiter, which raises on the run's INTERNAL_ERROR."""
    tasks = [
        jobs.SubmitTask(task_key="prepare", environment_key="default", max_retries=1, min_retry_interval_millis=0,
                        notebook_task=jobs.NotebookTask(notebook_path="/Projects/dag/fails", base_parameters={"n": "3"})),
        jobs.SubmitTask(task_key="train", depends_on=[jobs.TaskDependency(task_key="prepare")], run_if=jobs.RunIf.NONE_FAILED,
                        new_cluster=compute.ClusterSpec.from_dict(POOL_CLUSTER), timeout_seconds=120,
                        libraries=[compute.Library(pypi=compute.PythonPyPiLibrary(package="requests"))],
                        notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK)),
        jobs.SubmitTask(task_key="report", depends_on=[jobs.TaskDependency(task_key="train")], existing_cluster_id="0101-abc",
                        notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK)),
    ]
    environments = [jobs.JobEnvironment(environment_key="default", spec=compute.Environment(environment_version="4"))]
    waiter = w.jobs.submit(run_name="dag", tasks=tasks, environments=environments,
                           performance_target=jobs.PerformanceTarget.STANDARD, timeout_seconds=600)
    with pytest.raises(OperationFailed, match="INTERNAL_ERROR") as raised:
        waiter.result(timeout=timedelta(seconds=90))
    return waiter.run_id, raised.value


def test_the_sdk_waiter_raises_on_a_failed_dag_and_the_run_reads_failed(w, failed_dag):
    run_id, error = failed_dag
    assert "Task prepare failed with message: Workload failed, see run output for details." in str(error)
    run = w.jobs.get_run(run_id)
    assert (run.state.life_cycle_state, run.state.result_state) == (jobs.RunLifeCycleState.INTERNAL_ERROR, jobs.RunResultState.FAILED)
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    details = run.status.termination_details
    assert (details.code, details.type) == (jobs.TerminationCodeCode.RUN_EXECUTION_ERROR, jobs.TerminationTypeType.CLIENT_ERROR)
    assert details.message == run.state.state_message
    assert run.number_in_job == run.run_id and run.effective_performance_target == jobs.PerformanceTarget.STANDARD


def test_a_failed_task_appears_once_per_attempt_and_its_downstream_is_upstream_failed(w, failed_dag):
    run = w.jobs.get_run(failed_dag[0])
    prepare = [task for task in run.tasks if task.task_key == "prepare"]
    assert [task.attempt_number for task in prepare] == [0, 1]
    assert len({task.run_id for task in prepare}) == 2
    for attempt in prepare:
        assert attempt.state.result_state == jobs.RunResultState.FAILED
        assert attempt.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
        assert 0 < attempt.start_time <= attempt.end_time
    for key in ("train", "report"):
        [skipped] = [task for task in run.tasks if task.task_key == key]
        assert skipped.state.result_state == jobs.RunResultState.UPSTREAM_FAILED
        assert skipped.status.termination_details.code == jobs.TerminationCodeCode.SKIPPED
    assert "prepare broke" in w.jobs.get_run_output(prepare[-1].run_id).error


def test_runs_get_echoes_each_tasks_settings_as_the_sdk_parses_them(w, failed_dag):
    tasks = {task.task_key: task for task in w.jobs.get_run(failed_dag[0]).tasks}
    prepare, train, report = tasks["prepare"], tasks["train"], tasks["report"]
    assert prepare.environment_key == "default" and prepare.max_retries == 1
    assert prepare.notebook_task.base_parameters == {"n": "3"}
    assert prepare.notebook_task.source == jobs.Source.WORKSPACE
    assert prepare.effective_performance_target == jobs.PerformanceTarget.STANDARD and prepare.cluster_instance is None
    assert [dependency.task_key for dependency in train.depends_on] == ["prepare"]
    assert train.run_if == jobs.RunIf.NONE_FAILED and report.run_if == jobs.RunIf.ALL_SUCCESS  # the default, filled
    assert train.new_cluster.instance_pool_id == "pool-1234" and train.new_cluster.node_type_id is None
    assert [library.pypi.package for library in train.libraries] == ["requests"]
    assert train.timeout_seconds == 120
    assert report.existing_cluster_id == "0101-abc" and report.new_cluster is None and not report.libraries


def test_the_raw_run_object_has_the_multi_task_fields_and_no_page_token(emulator, failed_dag):
    with _session() as session:
        body = session.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": failed_dag[0]}, timeout=30).json()
        listed = session.get(f"{emulator.url}/api/2.2/jobs/runs/list", params={"expand_tasks": "true"}, timeout=30).json()
    assert body["format"] == "MULTI_TASK" and body["number_in_job"] == body["run_id"]
    assert body["environments"] == [{"environment_key": "default", "spec": {"environment_version": "4"}}]
    assert body["performance_target"] == "STANDARD" and body["timeout_seconds"] == 600
    assert "next_page_token" not in body and "next_page_token" not in listed
    [listed_run] = [run for run in listed["runs"] if run["run_id"] == failed_dag[0]]
    assert [task["task_key"] for task in listed_run["tasks"]] == [task["task_key"] for task in body["tasks"]]


def test_our_backend_and_supervision_read_the_failed_dag(emulator, failed_dag):
    backend = databricks_backend(emulator.url, TOKEN)
    try:
        run = backend.get_run(failed_dag[0])
        assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED") and not run.succeeded
        latest = {task.task_key: task for task in run.latest_tasks()}
        assert latest["prepare"].attempt_number == 1 and latest["prepare"].notebook_path == "/Projects/dag/fails"
        assert latest["train"].depends_on == ("prepare",) and latest["train"].run_if == "NONE_FAILED"
        assert latest["report"].result_state == "UPSTREAM_FAILED"
        supervised = supervise_run(backend, failed_dag[0], timeout_s=60)
        assert supervised.exit_code == 1 and supervised.interrupted is None
    finally:
        backend.close()


def test_what_our_backend_submits_is_what_runs_get_echoes(emulator):
    spec = RunSpec(
        run_name="sent",
        tasks=(
            NotebookTask("prepare", NOTEBOOK, {"n": "1"}, compute=Serverless("default"), max_retries=2),
            NotebookTask("train", NOTEBOOK, depends_on=("prepare",), run_if="ALL_DONE", compute=NewCluster(POOL_CLUSTER),
                         libraries=({"pypi": {"package": "requests"}},), timeout_seconds=90, retry_on_timeout=True),
        ),
        environments=({"environment_key": "default", "spec": {"environment_version": "4"}},),
        performance_target="PERFORMANCE_OPTIMIZED",
    )
    backend = databricks_backend(emulator.url, TOKEN)
    try:
        run_id = backend.submit_run(spec)
        assert supervise_run(backend, run_id, timeout_s=60).exit_code == 0
    finally:
        backend.close()
    with _session() as session:
        body = session.get(f"{emulator.url}/api/2.2/jobs/runs/get", params={"run_id": run_id}, timeout=30).json()
    sent = submit_body(spec)
    echoed = [{name: task[name] for name in sent_task} for task, sent_task in zip(body["tasks"], sent["tasks"], strict=True)]
    assert echoed == sent["tasks"]  # every field sent comes back as sent
    assert [task["run_if"] for task in body["tasks"]] == ["ALL_SUCCESS", "ALL_DONE"]
    assert body["environments"] == sent["environments"] and body["effective_performance_target"] == "PERFORMANCE_OPTIMIZED"


# -- repair over HTTP ------------------------------------------------------------------------------------
def test_repair_reruns_only_the_failed_and_skipped_tasks_in_the_same_run(emulator, w, tmp_path):
    marker = tmp_path / "fixed"
    emulator.backend.import_object("/Projects/dag/slow.py", SLOW)
    emulator.backend.import_object(
        "/Projects/dag/until_fixed.py",
        HEADER + f"import os\nif not os.path.exists({str(marker)!r}):\n    raise RuntimeError('not fixed yet')\n".encode(),
    )
    waiter = w.jobs.submit(run_name="repairable", tasks=[
        jobs.SubmitTask(task_key="slow", notebook_task=jobs.NotebookTask(notebook_path="/Projects/dag/slow")),
        jobs.SubmitTask(task_key="flaky", depends_on=[jobs.TaskDependency(task_key="slow")],
                        notebook_task=jobs.NotebookTask(notebook_path="/Projects/dag/until_fixed")),
        jobs.SubmitTask(task_key="after", depends_on=[jobs.TaskDependency(task_key="flaky")],
                        notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK)),
    ])
    repair_url = f"{emulator.url}/api/2.2/jobs/runs/repair"
    with _session() as session:
        # the run is still in its first task (which sleeps): an active run is not repaired
        active = session.post(repair_url, json={"run_id": waiter.run_id, "rerun_all_failed_tasks": True}, timeout=30)
        assert (active.status_code, active.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        first = _wait(w, waiter.run_id, _terminal)
        assert first.state.result_state == jobs.RunResultState.FAILED
        slow_run_id = next(task.run_id for task in first.tasks if task.task_key == "slow")
        unknown = session.post(repair_url, json={"run_id": waiter.run_id, "rerun_tasks": ["ghost"]}, timeout=30)
        assert (unknown.status_code, unknown.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        assert "ghost" in unknown.json()["message"]
        marker.write_text("yes")
        backend = databricks_backend(emulator.url, TOKEN)
        try:
            repair_id = backend.repair_run(waiter.run_id, rerun_all_failed_tasks=True)
        finally:
            backend.close()
        repaired = _wait(w, waiter.run_id, lambda run: _terminal(run) and run.state.result_state != jobs.RunResultState.FAILED)
        again = session.post(repair_url, json={"run_id": waiter.run_id, "rerun_all_failed_tasks": True}, timeout=30)
        assert (again.status_code, again.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")  # latest_repair_id missing
        assert "latest_repair_id" in again.json()["message"]
    assert repaired.run_id == waiter.run_id
    assert repaired.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert repaired.state.result_state == jobs.RunResultState.SUCCESS
    latest = {task.task_key: task for task in repaired.tasks}
    assert latest["slow"].run_id == slow_run_id  # the successful task kept, not rerun
    assert latest["flaky"].state.result_state == latest["after"].state.result_state == jobs.RunResultState.SUCCESS
    assert not repaired.repair_history  # asked without include_history
    history = w.jobs.get_run(waiter.run_id, include_history=True).repair_history
    assert [item.type for item in history] == [jobs.RepairHistoryItemType.ORIGINAL, jobs.RepairHistoryItemType.REPAIR]
    assert history[-1].id == repair_id and latest["flaky"].run_id in history[-1].task_run_ids
    assert history[0].state.result_state == jobs.RunResultState.FAILED  # the original attempt, as it ended
    assert history[-1].status.termination_details.code == jobs.TerminationCodeCode.SUCCESS


def test_the_old_single_task_shape_still_runs_on_2_0(emulator):
    body = {"run_name": "legacy", "notebook_task": {"notebook_path": NOTEBOOK}, "existing_cluster_id": "0101-abc",
            "timeout_seconds": 60}
    with _session() as session:
        run_id = session.post(f"{emulator.url}/api/2.0/jobs/runs/submit", json=body, timeout=30).json()["run_id"]
        w = workspace_client(emulator.url, TOKEN)
        run = _wait(w, run_id, _terminal)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    [task] = run.tasks
    assert task.existing_cluster_id == "0101-abc" and task.timeout_seconds == 60
