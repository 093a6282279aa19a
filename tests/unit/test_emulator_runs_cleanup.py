"""Cleaning up runs. runs/delete (`w.jobs.delete_run`): a finished run and its task runs go; an active
run, a task run's id and an unknown run are refused with 400, and nothing is removed. runs/cancel-all
(`w.jobs.cancel_all_runs`): a job's active runs end CANCELED, other runs go on."""
from __future__ import annotations

import pytest
from databricks.sdk.errors import DatabricksError, ResourceDoesNotExist
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ImportFormat, Language

from bricktasks.testing.emulator import raw_api, start_emulator, workspace_client

TOKEN = "delete-token"
QUICK = b"# Databricks notebook source\ndbutils.notebook.exit('done')\n"
SLOW = b"# Databricks notebook source\nimport time\ntime.sleep(60)\n"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with start_emulator(tmp_path_factory.mktemp("delete") / "root", token=TOKEN) as handle:
        w = workspace_client(handle.url, TOKEN)
        for name, source in (("quick", QUICK), ("slow", SLOW)):
            w.workspace.upload(f"/Shared/{name}", source, format=ImportFormat.SOURCE, language=Language.PYTHON)
        yield handle


def _submit(w, notebook: str):
    return w.jobs.submit(run_name=notebook, tasks=[jobs.SubmitTask(task_key="t", notebook_task=jobs.NotebookTask(f"/Shared/{notebook}"))])


def test_a_finished_run_and_its_task_runs_are_deleted(emulator):
    w = workspace_client(emulator.url, TOKEN)
    run = _submit(w, "quick").result()
    task_run_id = run.tasks[0].run_id
    w.jobs.delete_run(run.run_id)
    for gone in (run.run_id, task_run_id):
        with pytest.raises(ResourceDoesNotExist):
            w.jobs.get_run(gone)
        assert not (emulator.root / "runs" / str(gone)).exists()
    assert run.run_id not in [r.run_id for r in w.jobs.list_runs()]


def test_an_active_run_and_a_task_run_are_refused_and_kept(emulator):
    w = workspace_client(emulator.url, TOKEN)
    waiter = _submit(w, "slow")
    with pytest.raises(DatabricksError, match="is active") as refused:
        w.jobs.delete_run(waiter.run_id)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    task_run_id = w.jobs.get_run(waiter.run_id).tasks[0].run_id
    with pytest.raises(DatabricksError, match="is a task run"):
        w.jobs.delete_run(task_run_id)
    w.jobs.cancel_run(waiter.run_id).result()
    assert w.jobs.get_run(task_run_id).run_id == task_run_id  # both kept until the run was deleted
    w.jobs.delete_run(waiter.run_id)


def test_unknown_and_malformed_run_ids_answer_400(emulator):
    with raw_api(emulator.url, TOKEN) as call:
        unknown = call("POST", "/api/2.2/jobs/runs/delete", json={"run_id": 987654})
        malformed = call("POST", "/api/2.1/jobs/runs/delete", json={"run_id": "x"})
    assert (unknown.status_code, unknown.json()["message"]) == (400, "Run 987654 does not exist.")
    assert (malformed.status_code, malformed.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert all(e["status"] < 500 for e in emulator.requests)


def test_cancel_all_runs_cancels_the_jobs_active_runs_only(emulator):
    w = workspace_client(emulator.url, TOKEN)
    slow = [jobs.Task(task_key="t", notebook_task=jobs.NotebookTask("/Shared/slow"))]
    job_id = w.jobs.create(name="cancel me", tasks=slow, max_concurrent_runs=2).job_id
    job_runs = [w.jobs.run_now(job_id).run_id for _ in range(2)]
    other = _submit(w, "slow")
    w.jobs.cancel_all_runs(job_id=job_id)
    for run_id in job_runs:
        state = w.jobs.wait_get_run_job_terminated_or_skipped(run_id).state
        assert state.result_state == jobs.RunResultState.CANCELED
    assert not w.jobs.get_run(other.run_id).state.result_state  # the one-time run goes on
    w.jobs.cancel_run(other.run_id).result()
    w.jobs.delete(job_id)


def test_cancel_all_runs_without_a_job_or_all_queued_runs_is_refused(emulator):
    with raw_api(emulator.url, TOKEN) as call:
        nothing = call("POST", "/api/2.2/jobs/runs/cancel-all", json={})
        malformed = call("POST", "/api/2.1/jobs/runs/cancel-all", json={"job_id": "x"})
        queued = call("POST", "/api/2.2/jobs/runs/cancel-all", json={"all_queued_runs": True})
    assert (nothing.status_code, nothing.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert malformed.status_code == 400
    assert (queued.status_code, queued.json()) == (200, {})
