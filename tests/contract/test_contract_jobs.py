"""One-time runs behave the same on every backend: states, outputs, cancel, timeout, idempotency, export."""
from __future__ import annotations

import uuid

import pytest

from bricktasks.errors import InvalidRequest, NotFound

SUCCEEDS = 'print("working")\ndbutils.notebook.exit("ok")\n'
FAILS = 'raise ValueError("boom from the notebook")\n'
SLEEPS = "import time\ntime.sleep(120)\n"


def test_a_successful_run_reports_its_exit_value(place, backend, notebook):
    run_id = backend.submit_run(place.spec(notebook("succeeds", SUCCEEDS)))
    run = place.wait(run_id)
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "SUCCESS")
    assert run.succeeded and run.end_time >= run.start_time > 0
    [task] = run.tasks
    assert task.task_key == "main" and task.run_id != run_id
    assert backend.get_run_output(task.run_id).result == "ok"


def test_a_failing_run_reports_error_and_trace(place, backend, notebook):
    run = place.wait(backend.submit_run(place.spec(notebook("fails", FAILS))))
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")  # as Databricks reports a run whose task failed
    output = backend.get_run_output(run.tasks[0].run_id)
    assert "boom from the notebook" in output.error
    assert "ValueError" in (output.error_trace or output.error)


def test_cancel_stops_a_running_run(place, backend, notebook):
    run_id = backend.submit_run(place.spec(notebook("sleeps", SLEEPS)))
    place.wait(run_id, until=lambda run: any(task.life_cycle_state == "RUNNING" for task in run.tasks))
    backend.cancel_run(run_id)
    run = place.wait(run_id)
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "CANCELED")
    assert run_id not in {active.run_id for active in backend.list_runs(active_only=True)}


def test_a_run_past_its_timeout_is_timedout(place, backend, notebook):
    run = place.wait(backend.submit_run(place.spec(notebook("overruns", SLEEPS), timeout_seconds=1)))
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "TIMEDOUT")


def test_the_same_idempotency_token_returns_the_same_run(place, backend, notebook):
    spec = place.spec(notebook("once", SUCCEEDS), idempotency_token=f"contract-{uuid.uuid4().hex}")
    first = backend.submit_run(spec)
    assert backend.submit_run(spec) == first
    place.wait(first)
    assert backend.submit_run(spec) == first


def test_the_parents_output_is_refused_and_the_tasks_is_given(place, backend, notebook):
    run = place.wait(backend.submit_run(place.spec(notebook("parent", SUCCEEDS))))
    with pytest.raises(InvalidRequest):
        backend.get_run_output(run.run_id)
    assert backend.get_run_output(run.tasks[0].run_id).result == "ok"


def test_export_run_is_html(place, backend, notebook):
    run = place.wait(backend.submit_run(place.spec(notebook("exported", SUCCEEDS))))
    html = backend.export_run(run.run_id)
    assert "<html" in html.lower() and "working" in html


def test_list_runs_shows_runs_newest_first(place, backend, notebook):
    path = notebook("listed", SUCCEEDS)
    first = place.wait(backend.submit_run(place.spec(path))).run_id
    second = place.wait(backend.submit_run(place.spec(path))).run_id
    listed = [run.run_id for run in backend.list_runs()]
    assert listed.index(second) < listed.index(first)
    assert not {first, second} & {run.run_id for run in backend.list_runs(active_only=True)}


def test_missing_runs_and_notebooks_are_not_found(place, backend):
    with pytest.raises(NotFound):
        backend.get_run(987654321)
    with pytest.raises(NotFound):
        backend.cancel_run(987654321)
    if place.kind != "live":  # Databricks accepts the submit and fails the run instead
        with pytest.raises(NotFound):
            backend.submit_run(place.spec(f"{place.workspace}/no-such-notebook"))
