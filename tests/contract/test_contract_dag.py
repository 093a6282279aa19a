"""Multi-task runs behave the same on every backend: depends_on order, a failed upstream, retries, repair."""
from __future__ import annotations

from bricktasks.backends.base import NotebookTask, RunSpec

SUCCEEDS = 'dbutils.notebook.exit("ok")\n'
FAILS = 'raise ValueError("upstream broke")\n'


def _dag_spec(place, tasks: list[NotebookTask], name: str) -> RunSpec:
    return RunSpec(run_name=name, tasks=tuple(tasks))


def test_a_failed_upstream_fails_the_run_and_skips_its_downstream(place, backend, notebook):
    fails, succeeds = notebook("dag_fails", FAILS), notebook("dag_ok", SUCCEEDS)
    compute = place.spec(succeeds).compute
    tasks = [
        NotebookTask("prepare", fails, compute=compute, max_retries=1),
        NotebookTask("train", succeeds, compute=compute, depends_on=("prepare",)),
        NotebookTask("cleanup", succeeds, compute=compute, depends_on=("train",), run_if="ALL_DONE"),
        NotebookTask("gate", succeeds, compute=compute, depends_on=("train",)),
    ]
    run = place.wait(backend.submit_run(_dag_spec(place, tasks, "contract dag")))
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")
    assert run.state_message.startswith("Task prepare failed with message:")
    latest = {task.task_key: task for task in run.latest_tasks()}
    assert [task.attempt_number for task in run.tasks if task.task_key == "prepare"] == [0, 1]
    assert latest["prepare"].result_state == "FAILED"
    assert latest["train"].result_state == latest["gate"].result_state == "UPSTREAM_FAILED"
    assert latest["cleanup"].result_state == "SUCCESS"  # ALL_DONE runs whatever its upstream did
    assert latest["train"].depends_on == ("prepare",) and latest["cleanup"].run_if == "ALL_DONE"
    assert latest["cleanup"].start_time >= latest["prepare"].end_time > 0


def test_repair_reruns_the_failed_tasks_in_the_same_run(place, backend, notebook):
    succeeds = notebook("repair_ok", SUCCEEDS)
    flaky = notebook("repair_flaky", FAILS)
    compute = place.spec(succeeds).compute
    tasks = [NotebookTask("first", succeeds, compute=compute), NotebookTask("second", flaky, compute=compute, depends_on=("first",))]
    run = place.wait(backend.submit_run(_dag_spec(place, tasks, "contract repair")))
    assert run.result_state == "FAILED"
    kept = {task.task_key: task.run_id for task in run.latest_tasks()}["first"]
    notebook("repair_flaky", SUCCEEDS)  # the fix
    repair_id = backend.repair_run(run.run_id, rerun_all_failed_tasks=True)
    repaired = place.wait(run.run_id, until=lambda r: r.is_terminal and r.latest_repair_id == repair_id)
    assert (repaired.life_cycle_state, repaired.result_state) == ("TERMINATED", "SUCCESS")
    latest = {task.task_key: task for task in repaired.latest_tasks()}
    assert latest["first"].run_id == kept and latest["second"].result_state == "SUCCESS"
    assert [attempt.repair_id for attempt in repaired.repair_history] == [None, repair_id]
