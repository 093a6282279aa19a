"""Saved jobs behave the same on every backend: create, get with the server's defaults, list by name,
reset, update by key, run-now of a tiny notebook job, delete (its runs stay readable)."""
from __future__ import annotations

import uuid

import pytest

from bricktasks.errors import InvalidRequest, NotFound

ECHOES = 'dbutils.notebook.exit(dbutils.widgets.get("who"))\n'


def _task(key: str, notebook: str, place, **fields) -> dict:
    task = {"task_key": key, "notebook_task": {"notebook_path": notebook, "base_parameters": {"who": key}}, **fields}
    if place.cluster_id:
        task["existing_cluster_id"] = place.cluster_id
    return task


def test_a_saved_job_from_create_to_delete(place, backend, notebook):
    path = notebook("echoes", ECHOES)
    name = f"Contract Job {uuid.uuid4().hex[:8]}"
    job_id = backend.create_job({"name": name, "tags": {"by": "contract"}, "tasks": [_task("first", path, place)]})
    try:
        job = backend.get_job(job_id)
        assert job.job_id == job_id and job.name == name and job.settings["tags"] == {"by": "contract"}
        assert job.settings["max_concurrent_runs"] == 1 and job.settings["format"] == "MULTI_TASK"
        [task] = job.settings["tasks"]
        assert task["run_if"] == "ALL_SUCCESS" and task["notebook_task"]["source"] == "WORKSPACE"
        assert [found.job_id for found in backend.list_jobs(name=name.upper())] == [job_id]

        backend.reset_job(job_id, {"name": name, "tasks": [_task("first", path, place)], "timeout_seconds": 600})
        reset = backend.get_job(job_id).settings
        assert "tags" not in reset and reset["timeout_seconds"] == 600

        backend.update_job(job_id, {"tasks": [_task("second", path, place, depends_on=[{"task_key": "first"}])]},
                           fields_to_remove=["timeout_seconds"])
        updated = backend.get_job(job_id).settings
        assert [t["task_key"] for t in updated["tasks"]] == ["first", "second"] and updated["timeout_seconds"] == 0

        run_id = backend.run_now(job_id, notebook_params={"who": "run-now"})
        run = place.wait(run_id)
        assert run.succeeded and run.job_id == job_id
        assert {backend.get_run_output(task.run_id).result for task in run.tasks} == {"run-now"}
        assert run_id in {listed.run_id for listed in backend.list_runs(job_id=job_id)}
        assert run_id not in {listed.run_id for listed in backend.list_runs()}  # one-time runs only
    finally:
        backend.delete_job(job_id)
    with pytest.raises(NotFound):
        backend.get_job(job_id)
    assert backend.get_run(run_id).job_id == job_id


def test_a_task_naming_a_missing_job_cluster_is_refused_and_nothing_is_saved(place, backend, notebook):
    name = f"Contract Bad {uuid.uuid4().hex[:8]}"
    with pytest.raises(InvalidRequest):
        backend.create_job({"name": name, "tasks": [{"task_key": "a", "job_cluster_key": "absent",
                                                     "notebook_task": {"notebook_path": notebook("x", ECHOES)}}]})
    assert backend.list_jobs(name=name) == []
