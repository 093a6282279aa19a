"""The local backend's saved jobs: the rules jobs/create and reset apply, update's merge and removals,
and what a run-now runs (job clusters inlined, parameters layered), against LocalBackend(tmp_path)."""
from __future__ import annotations

import json
import time

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.errors import InvalidRequest, NotFound

NOTEBOOK = "/Projects/jobs/nb"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "num_workers": 0}


def _task(key: str, **fields) -> dict:
    return {"task_key": key, "notebook_task": {"notebook_path": NOTEBOOK, "base_parameters": {"p": "base"}}, **fields}


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    backend = LocalBackend(tmp_path / "root")
    backend.mkdirs("/Projects/jobs")
    backend.import_object(NOTEBOOK + ".py", b"# Databricks notebook source\ndbutils.notebook.exit(dbutils.widgets.get('p'))\n")
    return backend


@pytest.mark.parametrize(("settings", "message"), [
    ({"name": "x" * 4097}, "at most 4096 bytes"),
    ({"tags": {f"t{n}": "v" for n in range(26)}}, "at most 25 tags"),
    ({"schedule": {"quartz_cron_expression": "0 0 3 * * ?"}}, "Missing required field: settings.schedule.timezone_id"),
    ({"schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC", "pause_status": "OFF"}}, "PAUSED or UNPAUSED"),
    ({"job_clusters": [{"job_cluster_key": "c", "new_cluster": CLUSTER}]}, "Shared job cluster feature is only supported"),
    ({"tasks": [_task("a", job_cluster_key="nope")]}, "job_cluster_key 'nope' names no entry"),
    ({"tasks": [_task("a"), _task("a")]}, "task_key 'a' is used by more than one task"),
    ({"tasks": [_task("a", libraries=[{"whl": "/Volumes/x.whl"}])]}, "Libraries field is not supported for serverless task"),
    ({"max_concurrent_runs": 1001}, "max_concurrent_runs must be an integer between 0 and 1000"),
    ({"queue": {}}, "Missing required field: settings.queue.enabled"),
    ({"parameters": [{"name": "env"}]}, "Missing required field: settings.parameters.default"),
])
def test_bad_settings_are_refused_with_one_line_and_nothing_saved(backend, settings, message):
    with pytest.raises(InvalidRequest, match=message) as refused:
        backend.create_job({"name": "j", **settings} if "name" not in settings else settings)
    assert "\n" not in refused.value.message
    assert backend.list_jobs() == [] and not list((backend.root / "jobs").glob("*.json"))


def test_a_job_is_a_file_of_the_settings_as_given_and_reads_with_the_defaults(backend):
    job_id = backend.create_job({"name": "J", "tasks": [_task("a")]})
    stored = json.loads((backend.root / "jobs" / f"{job_id}.json").read_text())
    assert stored["settings"] == {"name": "J", "tasks": [_task("a")]}
    echoed = backend.get_job(job_id).settings
    assert echoed["webhook_notifications"] == {} and echoed["queue"] == {"enabled": True}
    assert echoed["tasks"][0]["email_notifications"] == {} and echoed["tasks"][0]["timeout_seconds"] == 0


def test_update_merges_by_key_and_refuses_removing_a_task_it_does_not_have(backend):
    job_id = backend.create_job({"name": "J", "tasks": [_task("a"), _task("b")],
                                 "job_clusters": [{"job_cluster_key": "c", "new_cluster": CLUSTER}]})
    backend.update_job(job_id, {"tasks": [_task("b", job_cluster_key="c")], "name": "K"}, fields_to_remove=["tasks/a"])
    settings = backend.get_job(job_id).settings
    assert settings["name"] == "K" and [(t["task_key"], t.get("job_cluster_key")) for t in settings["tasks"]] == [("b", "c")]
    with pytest.raises(InvalidRequest, match="no tasks entry 'a'"):
        backend.update_job(job_id, {}, fields_to_remove=["tasks/a"])
    with pytest.raises(InvalidRequest, match="names no entry of job_clusters"):  # the merged result is checked too
        backend.update_job(job_id, {}, fields_to_remove=["job_clusters/c"])
    assert backend.get_job(job_id).settings["job_clusters"][0]["job_cluster_key"] == "c"  # nothing changed


def test_run_now_inlines_job_clusters_and_layers_the_parameters(backend):
    job_id = backend.create_job({
        "name": "J", "tasks": [_task("a", job_cluster_key="c")], "job_clusters": [{"job_cluster_key": "c", "new_cluster": CLUSTER}],
        "parameters": [{"name": "p", "default": "job-default"}],
    })
    run_id = backend.run_now(job_id, job_parameters={"p": "job-value"})
    [task_run_id] = backend.runs.stored_run(run_id).task_run_ids
    settings = backend.runs.stored_run(task_run_id).settings
    assert settings["new_cluster"] == CLUSTER and settings["notebook_task"]["base_parameters"] == {"p": "job-value"}
    with pytest.raises(InvalidRequest, match="has no parameter 'q'"):
        backend.run_now(job_id, job_parameters={"q": "1"})
    with pytest.raises(NotFound, match="does not exist"):
        backend.run_now(job_id + 1)
    deadline = time.monotonic() + 60
    while not backend.get_run(run_id).is_terminal:  # end it here, not after tmp_path is gone
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert backend.get_run_output(task_run_id).result == "job-value"
