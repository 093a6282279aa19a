"""The local backend runs a run's tasks as the Jobs API does: by depends_on, at most two at once,
run_if, retries, timeouts, cancel of the whole run, compute start-up, and repair within the same run.

Tiny notebooks without Spark, in a tmp local root: each task process costs well under a second."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from bricktasks.backends.base import ExistingCluster, NewCluster, NotebookTask, Run, RunSpec, TaskRun
from bricktasks.backends.local import LocalBackend
from bricktasks.backends.local_scheduler import MAX_PARALLEL_TASKS, UNLIMITED_RETRIES_CAP
from bricktasks.backends.submit_json import submit_body
from bricktasks.dag.outcomes import TASK_FAILURE_MESSAGE
from bricktasks.errors import InvalidRequest
from bricktasks.testing.projectcopy import wait_until

OK = "print('ok')\n"
FAIL = "raise RuntimeError('boom')\n"
SLEEP = "import time\ntime.sleep(1.0)\n"
HANG = "import time\nopen('started', 'w').write('yes')\ntime.sleep(60)\n"  # cwd: the task run's folder
# a notebook with a child process of its own (as Spark's JVM): only killing its process group ends that
SPAWNS = "import subprocess\nsubprocess.Popen(['sleep', '60'])\n" + HANG


def _backend(tmp_path: Path, notebooks: dict[str, str], **options) -> LocalBackend:
    backend = LocalBackend(tmp_path / "root", **options)
    backend.mkdirs("/Projects/p")
    for name, source in notebooks.items():
        backend.import_object(f"/Projects/p/{name}", source.encode(), format="SOURCE", language="PYTHON")
    return backend


def _task(key: str, notebook: str, *depends_on: str, **fields) -> NotebookTask:
    return NotebookTask(key, f"/Projects/p/{notebook}", depends_on=depends_on, **fields)


def _ended(backend: LocalBackend, run_id: int, timeout: float = 60) -> Run:
    return wait_until(lambda: (run := backend.get_run(run_id)).is_terminal and run, timeout=timeout, interval=0.05)


def _by_key(run: Run) -> dict[str, TaskRun]:
    return {task.task_key: task for task in run.latest_tasks()}


def _states(run: Run) -> dict[str, tuple[str, str | None]]:
    return {key: (task.life_cycle_state, task.result_state) for key, task in _by_key(run).items()}


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in the process group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# -- submit ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ((_task("a", "Ok", "b"), _task("b", "Ok", "a")), "cycle"),
        ((_task("a", "Ok", "nope"),), "'nope', which is not a task of this run"),
        ((_task("a", "Ok"), _task("a", "Ok")), "used by more than one task"),
        ((_task("a", "Ok", run_if="SOMETIMES"),), "unknown run_if 'SOMETIMES'"),
    ],
)
def test_an_invalid_graph_is_refused_before_anything_is_written(tmp_path, tasks, message):
    backend = _backend(tmp_path, {"Ok": OK})
    with pytest.raises(InvalidRequest, match=message):
        backend.submit_run(RunSpec(run_name="bad", tasks=tasks))
    runs = backend.runs.paths.runs
    assert not (runs.exists() and any(path.name.isdigit() for path in runs.iterdir()))


def test_the_record_keeps_the_submitted_body_and_each_task_its_settings(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK})
    spec = RunSpec(
        run_name="kept", tags={"build": "7"}, timeout_seconds=60,
        tasks=(_task("a", "Ok"), _task("b", "Ok", "a", run_if="ALL_DONE", max_retries=2, compute=ExistingCluster("c-1"))),
    )
    run_id = backend.submit_run(spec)
    run = _ended(backend, run_id)
    assert backend.runs.read(run_id)["spec"] == {**submit_body(spec), "tags": {"build": "7"}}
    b = _by_key(run)["b"]
    assert (b.depends_on, b.run_if, b.notebook_path, b.attempt_number) == (("a",), "ALL_DONE", "/Projects/p/Ok", 0)
    assert backend.runs.stored_run(b.run_id).settings == submit_body(spec)["tasks"][1]
    assert [entry.repair_id for entry in run.repair_history] == [None]
    assert run.repair_history[0].task_run_ids == tuple(task.run_id for task in run.tasks)


# -- order, parallelism, task values context -------------------------------------------------
def test_tasks_run_in_dependency_order_at_most_two_at_once(tmp_path):
    backend = _backend(tmp_path, {"Sleep": SLEEP, "Ok": OK})
    tasks = (_task("x1", "Sleep"), _task("x2", "Sleep"), _task("x3", "Sleep"), _task("after", "Ok", "x1", "x2"),
             _task("last", "Ok", "after"))
    run = _ended(backend, backend.submit_run(RunSpec(run_name="dag", tasks=tasks)))
    assert run.succeeded, run.state_message
    tasks_by_key = _by_key(run)
    x1, x2, x3, after = (tasks_by_key[key] for key in ("x1", "x2", "x3", "after"))
    assert x1.start_time < x2.end_time and x2.start_time < x1.end_time  # independent tasks overlap
    assert MAX_PARALLEL_TASKS == 2 and x3.start_time >= min(x1.end_time, x2.end_time)  # the third waited for a slot
    assert after.start_time >= max(x1.end_time, x2.end_time)  # a downstream task starts once its upstream ended
    assert tasks_by_key["last"].start_time >= after.end_time

    context = json.loads((backend.runs.run_dir(tasks_by_key["last"].run_id) / "context.json").read_text())
    assert context["task_key"] == "last"
    assert context["upstream_task_keys"] == ["after", "x1", "x2"]  # transitive, sorted
    assert context["run_task_keys"] == ["x1", "x2", "x3", "after", "last"]
    assert context["task_values_dir"] == str(backend.runs.run_dir(run.run_id) / "task_values")


# -- run_if ----------------------------------------------------------------------------------
# the Jobs API's table (reference 1.6) spelled out: result of a task by run_if, for three upstreams
RUN_IF_TABLE = {
    "ALL_SUCCESS": {"both": "UPSTREAM_FAILED", "bad": "UPSTREAM_FAILED", "good": "SUCCESS"},
    "AT_LEAST_ONE_SUCCESS": {"both": "SUCCESS", "bad": "UPSTREAM_FAILED", "good": "SUCCESS"},
    "NONE_FAILED": {"both": "UPSTREAM_FAILED", "bad": "UPSTREAM_FAILED", "good": "SUCCESS"},
    "ALL_DONE": {"both": "SUCCESS", "bad": "SUCCESS", "good": "SUCCESS"},
    "AT_LEAST_ONE_FAILED": {"both": "SUCCESS", "bad": "SUCCESS", "good": "EXCLUDED"},
    "ALL_FAILED": {"both": "EXCLUDED", "bad": "SUCCESS", "good": "EXCLUDED"},
}
UPSTREAMS = {"both": ("good", "bad"), "bad": ("bad",), "good": ("good",)}


def test_every_run_if_against_failing_and_succeeding_upstreams(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK, "Fail": FAIL})
    tasks = [_task("good", "Ok"), _task("bad", "Fail")]
    for run_if in RUN_IF_TABLE:
        for name, upstream in UPSTREAMS.items():
            tasks.append(_task(f"{run_if}-{name}", "Ok", *upstream, run_if=run_if))
    run = _ended(backend, backend.submit_run(RunSpec(run_name="run_if", tasks=tuple(tasks))), timeout=90)
    results = {key: task.result_state for key, task in _by_key(run).items()}
    expected = {f"{run_if}-{name}": result for run_if, row in RUN_IF_TABLE.items() for name, result in row.items()}
    assert {key: results[key] for key in expected} == expected
    skipped = [task for task in _by_key(run).values() if task.result_state in ("UPSTREAM_FAILED", "EXCLUDED")]
    assert {task.life_cycle_state for task in skipped} == {"SKIPPED"} and all(task.start_time == 0 for task in skipped)
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")  # leaves failed (UPSTREAM_FAILED)


def test_a_failed_task_skips_its_downstream_and_fails_the_run(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK, "Fail": FAIL})
    tasks = (_task("PrepareData", "Fail"), _task("ModelTraining", "Ok", "PrepareData"), _task("Evaluate", "Ok", "ModelTraining"))
    run = _ended(backend, backend.submit_run(RunSpec(run_name="fails", tasks=tasks)))
    assert (run.life_cycle_state, run.result_state, run.state_message) == (
        "INTERNAL_ERROR", "FAILED",
        f"Task PrepareData failed with message: {TASK_FAILURE_MESSAGE}. This caused all downstream tasks to get skipped.",
    )
    tasks_by_key = _by_key(run)
    prepare, training = tasks_by_key["PrepareData"], tasks_by_key["ModelTraining"]
    assert (prepare.life_cycle_state, prepare.result_state, prepare.state_message) == ("TERMINATED", "FAILED", TASK_FAILURE_MESSAGE)
    assert "boom" in (backend.get_run_output(prepare.run_id).error or "")  # the notebook's own error
    assert (training.life_cycle_state, training.result_state, training.state_message) == (
        "SKIPPED", "UPSTREAM_FAILED", "Upstream task PrepareData failed"
    )
    assert tasks_by_key["Evaluate"].state_message == "Upstream task ModelTraining failed"


# -- retries and timeouts ----------------------------------------------------------------------
def test_retries_are_new_task_runs_with_attempt_numbers(tmp_path):
    marker = tmp_path / "second-time"
    flaky = f"import os\nif not os.path.exists({str(marker)!r}):\n    open({str(marker)!r}, 'w').close()\n    raise RuntimeError('first')\n"
    backend = _backend(tmp_path, {"Flaky": flaky, "Fail": FAIL, "Ok": OK})
    tasks = (
        _task("flaky", "Flaky", max_retries=2, min_retry_interval_millis=1500),
        _task("after", "Ok", "flaky"),
        _task("always", "Fail", max_retries=-1),
    )
    run_id = backend.submit_run(RunSpec(run_name="retries", tasks=tasks))
    waiting = wait_until(
        lambda: [task for task in backend.get_run(run_id).tasks if task.life_cycle_state == "WAITING_FOR_RETRY"], timeout=30, interval=0.05
    )
    assert waiting[0].task_key in ("flaky", "always")
    run = _ended(backend, run_id)
    attempts = [(task.task_key, task.attempt_number, task.result_state) for task in run.tasks]
    assert [attempt for attempt in attempts if attempt[0] == "flaky"] == [("flaky", 0, "FAILED"), ("flaky", 1, "SUCCESS")]
    assert [attempt for attempt in attempts if attempt[0] == "always"] == [
        ("always", number, "FAILED") for number in range(UNLIMITED_RETRIES_CAP + 1)  # -1 "forever", capped
    ]
    assert len({task.run_id for task in run.tasks}) == len(run.tasks)
    assert _by_key(run)["after"].result_state == "SUCCESS"
    assert _by_key(run)["after"].start_time >= _by_key(run)["flaky"].end_time
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert run.state_message.startswith("Task always failed")


def test_a_task_over_its_timeout_is_killed_and_retried_only_with_retry_on_timeout(tmp_path):
    backend = _backend(tmp_path, {"Hang": HANG, "Ok": OK})
    tasks = (
        _task("slow", "Hang", timeout_seconds=1, max_retries=1), _task("after", "Ok", "slow"),
        _task("retried", "Hang", timeout_seconds=1, max_retries=1, retry_on_timeout=True),
    )
    run = _ended(backend, backend.submit_run(RunSpec(run_name="timeout", tasks=tasks)), timeout=30)
    slow = _by_key(run)["slow"]
    assert [task.task_key for task in run.tasks].count("slow") == 1  # retry_on_timeout is off
    retried = [(task.attempt_number, task.result_state) for task in run.tasks if task.task_key == "retried"]
    assert retried == [(0, "TIMEDOUT"), (1, "TIMEDOUT")]
    assert (slow.life_cycle_state, slow.result_state) == ("TERMINATED", "TIMEDOUT")
    assert _states(run)["after"] == ("SKIPPED", "UPSTREAM_FAILED")
    assert run.result_state == "FAILED" and "Timed out" in run.state_message
    assert not _group_alive(backend.runs.read(slow.run_id)["worker"]["pid"])


def test_the_runs_timeout_ends_the_whole_run(tmp_path):
    backend = _backend(tmp_path, {"Hang": HANG, "Ok": OK})
    tasks = (_task("slow", "Hang"), _task("after", "Ok", "slow"))
    run = _ended(backend, backend.submit_run(RunSpec(run_name="run timeout", tasks=tasks, timeout_seconds=1)), timeout=30)
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "TIMEDOUT")
    assert _states(run) == {"slow": ("TERMINATED", "TIMEDOUT"), "after": ("TERMINATED", "CANCELED")}


# -- cancel and compute start-up --------------------------------------------------------------------
def test_cancel_stops_the_whole_dag_and_leaves_no_process(tmp_path):
    backend = _backend(tmp_path, {"Spawns": SPAWNS, "Ok": OK})
    tasks = (_task("a", "Spawns"), _task("b", "Spawns"), _task("c", "Ok", "a", "b"))
    run_id = backend.submit_run(RunSpec(run_name="cancel", tasks=tasks))
    task_dirs = [backend.runs.run_dir(task_id) for task_id in backend.runs.read(run_id)["tasks"][:2]]
    wait_until(lambda: all((folder / "started").exists() for folder in task_dirs), timeout=30, interval=0.05)
    groups = [backend.runs.read(int(folder.name))["worker"]["pid"] for folder in task_dirs]
    supervisor = backend.runs.read(run_id)["supervisor"]["pid"]
    backend.cancel_run(run_id)
    run = backend.get_run(run_id)  # cancel has ended everything by the time it returns
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "CANCELED")
    assert set(_states(run).values()) == {("TERMINATED", "CANCELED")}
    assert not any(_group_alive(pgid) for pgid in [*groups, supervisor])


def test_a_task_on_a_new_cluster_waits_for_it_and_serverless_starts_at_once(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK}, cluster_start_s=1.5)
    cluster = NewCluster({"spark_version": "15.4.x-scala2.12", "num_workers": 1})
    tasks = (_task("classic", "Ok", compute=cluster), _task("serverless", "Ok"), _task("existing", "Ok", compute=ExistingCluster("c-1")))
    run_id = backend.submit_run(RunSpec(run_name="start-up", tasks=tasks))
    seen: set[tuple[str, str, str]] = set()
    waiting_started: list[int] = []

    def observe() -> Run | None:
        run = backend.get_run(run_id)
        seen.update((task.task_key, task.life_cycle_state, task.state_message) for task in run.tasks)
        waiting_started.extend(task.start_time for task in run.tasks if task.state_message == "Waiting for cluster")
        return run if run.is_terminal else None

    run = wait_until(observe, timeout=60, interval=0.05)
    assert run.succeeded, run.state_message
    assert ("classic", "PENDING", "Waiting for cluster") in seen
    assert {key for key, _, message in seen if message == "Waiting for cluster"} == {"classic"}
    assert waiting_started and waiting_started[0] == _by_key(run)["classic"].start_time > 0  # start-up counts in its duration


def test_a_run_waiting_for_its_cluster_can_be_cancelled(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK}, cluster_start_s=60)
    tasks = (_task("classic", "Ok", compute=NewCluster({"spark_version": "15.4.x-scala2.12"})),)
    run_id = backend.submit_run(RunSpec(run_name="cancel start-up", tasks=tasks))
    wait_until(lambda: backend.get_run(run_id).tasks[0].state_message == "Waiting for cluster", timeout=30, interval=0.05)
    backend.cancel_run(run_id)
    run = backend.get_run(run_id)
    assert _states(run) == {"classic": ("TERMINATED", "CANCELED")}
    assert not (backend.runs.run_dir(run.tasks[0].run_id) / "context.json").exists()  # its notebook never started


# -- repair ----------------------------------------------------------------------------------------
def _repair_project(tmp_path: Path) -> tuple[LocalBackend, Path, Path]:
    ready, prepared = tmp_path / "ready", tmp_path / "prepared.log"
    prepare = f"open({str(prepared)!r}, 'a').write('ran\\n')\n"
    train = f"import os\nif not os.path.exists({str(ready)!r}):\n    raise RuntimeError('not ready')\n"
    return _backend(tmp_path, {"Prepare": prepare, "Train": train, "Ok": OK}), ready, prepared


def test_repair_reruns_only_the_failed_and_skipped_tasks_in_the_same_run(tmp_path):
    backend, ready, prepared = _repair_project(tmp_path)
    tasks = (_task("PrepareData", "Prepare"), _task("ModelTraining", "Train", "PrepareData"), _task("Evaluate", "Ok", "ModelTraining"))
    run_id = backend.submit_run(RunSpec(run_name="repair", tasks=tasks))
    before = _ended(backend, run_id)
    assert _states(before)["Evaluate"] == ("SKIPPED", "UPSTREAM_FAILED")
    ready.touch()

    repair_id = backend.repair_run(run_id, rerun_all_failed_tasks=True)
    after = _ended(backend, run_id)
    assert after.succeeded and after.run_id == run_id, after.state_message
    old, new = _by_key(before), _by_key(after)
    assert new["PrepareData"] == old["PrepareData"]  # kept: same run id, start time, result
    assert prepared.read_text() == "ran\n"  # and not run again
    rerun = {key for key in new if new[key].run_id != old[key].run_id}
    assert rerun == {"ModelTraining", "Evaluate"} and all(new[key].attempt_number == 0 for key in rerun)
    assert [task.task_key for task in after.tasks] == ["PrepareData", "ModelTraining", "Evaluate"]  # newest attempt of each
    assert [entry.repair_id for entry in after.repair_history] == [None, repair_id]
    assert after.repair_history[1].task_run_ids == (new["ModelTraining"].run_id, new["Evaluate"].run_id)
    assert after.repair_history[1].end_time >= after.repair_history[1].start_time > 0
    assert after.latest_repair_id == repair_id

    with pytest.raises(InvalidRequest, match=f"latest_repair_id must be {repair_id}"):
        backend.repair_run(run_id, rerun_tasks=["ModelTraining"])
    second = backend.repair_run(run_id, rerun_tasks=["ModelTraining"], rerun_dependent_tasks=True, latest_repair_id=repair_id)
    again = _ended(backend, run_id)
    assert second not in (repair_id, run_id) and again.succeeded
    assert {key for key, task in _by_key(again).items() if task.run_id != new[key].run_id} == {"ModelTraining", "Evaluate"}
    assert [entry.repair_id for entry in again.repair_history] == [None, repair_id, second]


def test_repair_refuses_what_the_api_refuses(tmp_path):
    backend = _backend(tmp_path, {"Hang": HANG, "Ok": OK})
    run_id = backend.submit_run(RunSpec(run_name="busy", tasks=(_task("a", "Hang"),)))
    with pytest.raises(InvalidRequest, match=f"Run {run_id} is still active"):
        backend.repair_run(run_id, rerun_tasks=["a"])
    backend.cancel_run(run_id)
    with pytest.raises(InvalidRequest, match="exactly one of rerun_tasks and rerun_all_failed_tasks"):
        backend.repair_run(run_id)
    with pytest.raises(InvalidRequest, match="exactly one of rerun_tasks and rerun_all_failed_tasks"):
        backend.repair_run(run_id, rerun_tasks=["a"], rerun_all_failed_tasks=True)
    with pytest.raises(InvalidRequest, match="no task 'nope'"):
        backend.repair_run(run_id, rerun_tasks=["nope"])
    with pytest.raises(InvalidRequest, match="has not been repaired yet"):
        backend.repair_run(run_id, rerun_tasks=["a"], latest_repair_id=5)
    assert [entry.repair_id for entry in backend.get_run(run_id).repair_history] == [None]  # nothing changed


def test_a_supervisor_told_to_stop_takes_its_tasks_with_it(tmp_path):
    backend = _backend(tmp_path, {"Spawns": SPAWNS})
    run_id = backend.submit_run(RunSpec(run_name="stopped", tasks=(_task("a", "Spawns"),)))
    task_dir = backend.runs.run_dir(backend.runs.read(run_id)["tasks"][0])
    wait_until(lambda: (task_dir / "started").exists(), timeout=30, interval=0.05)
    worker = backend.runs.read(int(task_dir.name))["worker"]["pid"]
    os.kill(backend.runs.read(run_id)["supervisor"]["pid"], signal.SIGTERM)
    run = _ended(backend, run_id)
    assert (run.life_cycle_state, run.state_message) == ("INTERNAL_ERROR", "The run's process ended unexpectedly")
    wait_until(lambda: not _group_alive(worker), timeout=10, interval=0.05)


def test_a_missing_library_fails_only_the_tasks_that_install_it(tmp_path):
    backend = _backend(tmp_path, {"Ok": OK})
    cluster = ExistingCluster("c-1")
    missing = {"whl": "dbfs:/libraries/missing-1.0-py3-none-any.whl"}
    tasks = (_task("needs", "Ok", compute=cluster, libraries=(missing,)), _task("plain", "Ok", compute=cluster),
             _task("serverless", "Ok", libraries=(missing,)))  # serverless installs no task libraries (its notebook does)
    run = _ended(backend, backend.submit_run(RunSpec(run_name="libraries", tasks=tasks)))
    needs = _by_key(run)["needs"]
    assert (needs.life_cycle_state, needs.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert needs.state_message == "library dbfs:/libraries/missing-1.0-py3-none-any.whl does not exist"
    assert _states(run)["plain"] == _states(run)["serverless"] == ("TERMINATED", "SUCCESS")
    assert run.state_message.startswith("Task needs failed")
