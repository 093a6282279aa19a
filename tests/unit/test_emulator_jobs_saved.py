"""Saved jobs over the emulator, driven by the real databricks-sdk: jobs/create ... run-now, list paging,
errors, max_concurrent_runs, idempotent run-now, and jobs that outlive an emulator process."""
from __future__ import annotations

import time

import pytest
import requests
from databricks.sdk.errors import InvalidParameterValue, NotFound
from databricks.sdk.service import compute, jobs

from bricktasks.testing.emulator import EmulatorProcess, start_emulator, workspace_client

TOKEN = "jobs-saved-token"
QUICK = "# Databricks notebook source\ndbutils.notebook.exit(dbutils.widgets.get('who'))\n"
SLEEPS = "# Databricks notebook source\nimport time\ntime.sleep(60)\n"


def _task(key: str, notebook: str = "/Projects/jobs/quick", **fields) -> jobs.Task:
    return jobs.Task(task_key=key, notebook_task=jobs.NotebookTask(notebook_path=notebook, base_parameters={"who": key}), **fields)


@pytest.fixture
def emulator(tmp_path):
    with start_emulator(tmp_path / "root", token=TOKEN) as handle:
        handle.backend.mkdirs("/Projects/jobs")
        handle.backend.import_object("/Projects/jobs/quick.py", QUICK.encode())
        handle.backend.import_object("/Projects/jobs/sleeps.py", SLEEPS.encode())
        yield handle


@pytest.fixture
def w(emulator):
    return workspace_client(emulator.url, TOKEN)


def _wait(w, run_id: int, until=lambda run: run.state.life_cycle_state.value in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")):
    deadline = time.monotonic() + 60
    while True:
        run = w.jobs.get_run(run_id)
        if until(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.state.life_cycle_state}"
        time.sleep(0.05)


def test_create_get_reset_update_delete_round_trip(w):
    job_id = w.jobs.create(
        name="Nightly training", tasks=[_task("train")], tags={"owner": "ml"},
        job_clusters=[jobs.JobCluster(job_cluster_key="shared", new_cluster=compute.ClusterSpec(spark_version="15.4.x-scala2.12"))],
        schedule=jobs.CronSchedule(quartz_cron_expression="0 0 3 * * ?", timezone_id="UTC", pause_status=jobs.PauseStatus.PAUSED),
    ).job_id
    assert job_id > 10**13  # real ids are ~15 digits
    job = w.jobs.get(job_id)
    settings = job.settings.as_dict()
    assert settings["name"] == "Nightly training" and settings["tags"] == {"owner": "ml"}
    assert settings["max_concurrent_runs"] == 1 and settings["timeout_seconds"] == 0 and settings["queue"] == {"enabled": True}
    assert settings["format"] == "MULTI_TASK"
    [task] = settings["tasks"]
    assert task["run_if"] == "ALL_SUCCESS" and task["notebook_task"]["source"] == "WORKSPACE"
    assert job.creator_user_name == w.current_user.me().user_name and job.created_time > 0

    w.jobs.reset(job_id, new_settings=jobs.JobSettings(name="Replaced", tasks=[_task("only")]))
    replaced = w.jobs.get(job_id).settings
    assert replaced.name == "Replaced" and replaced.tags is None and replaced.schedule is None
    assert [t.task_key for t in replaced.tasks] == ["only"]

    w.jobs.update(job_id, new_settings=jobs.JobSettings(tasks=[_task("second"), _task("only", timeout_seconds=60)],
                                                         max_concurrent_runs=3))
    merged = w.jobs.get(job_id).settings
    assert [(t.task_key, t.timeout_seconds) for t in merged.tasks] == [("only", 60), ("second", 0)]
    assert merged.max_concurrent_runs == 3 and merged.name == "Replaced"
    w.jobs.update(job_id, fields_to_remove=["tasks/second", "max_concurrent_runs"])
    removed = w.jobs.get(job_id).settings
    assert [t.task_key for t in removed.tasks] == ["only"] and removed.max_concurrent_runs == 1

    w.jobs.delete(job_id)
    with pytest.raises(NotFound, match=f"Job {job_id} does not exist"):
        w.jobs.get(job_id)


def test_an_unknown_job_is_the_sdks_not_found_and_a_bad_definition_is_refused(w):
    with pytest.raises(NotFound):
        w.jobs.get(123456789)
    with pytest.raises(InvalidParameterValue, match="job_cluster_key 'missing'"):
        w.jobs.create(name="bad", tasks=[_task("a", job_cluster_key="missing")])
    with pytest.raises(InvalidParameterValue, match="Missing required field: settings.schedule.timezone_id"):
        w.jobs.create(name="bad", tasks=[_task("a")], schedule=jobs.CronSchedule(quartz_cron_expression="0 0 3 * * ?", timezone_id=""))
    with pytest.raises(InvalidParameterValue, match="unknown|depends"):
        w.jobs.create(name="bad", tasks=[_task("a", depends_on=[jobs.TaskDependency(task_key="nope")])])
    assert list(w.jobs.list()) == []  # nothing was saved


def test_list_pages_one_job_at_a_time_and_filters_by_name_ignoring_case(w, emulator):
    ids = [w.jobs.create(name=name, tasks=[_task("a")]).job_id for name in ("Alpha", "Beta", "alpha")]
    listed = list(w.jobs.list(limit=1, expand_tasks=True))
    assert [job.job_id for job in listed] == ids  # the SDK followed every page and stopped
    assert all(job.settings.tasks and job.settings.tasks[0].task_key == "a" for job in listed)
    assert [job.job_id for job in w.jobs.list(name="ALPHA")] == [ids[0], ids[2]]
    assert all(not job.settings.tasks for job in w.jobs.list())  # without expand_tasks
    pages = [r for r in emulator.requests if r["path"].endswith("/jobs/list") and r["query"].get("limit") == "1"]
    assert len(pages) == 3


def test_run_now_runs_the_job_with_its_parameters_and_is_idempotent(w):
    job_id = w.jobs.create(name="Params", tasks=[_task("a")], parameters=[jobs.JobParameterDefinition(name="env", default="dev")]).job_id
    first = w.jobs.run_now(job_id, notebook_params={"who": "override"}, job_parameters={"env": "prod"}, idempotency_token="once-1")
    again = w.jobs.run_now(job_id, notebook_params={"who": "override"}, idempotency_token="once-1")
    assert again.run_id == first.run_id
    run = _wait(w, first.run_id)
    assert run.job_id == job_id and run.run_type == jobs.RunType.JOB_RUN and run.trigger == jobs.TriggerType.ONE_TIME
    assert run.number_in_job == run.run_id and run.state.result_state == jobs.RunResultState.SUCCESS
    assert {p.name: p.value for p in run.job_parameters} == {"env": "prod"}
    assert w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result == "override"  # run-now's notebook_params win
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id)] == [first.run_id]
    assert first.run_id not in {r.run_id for r in w.jobs.list_runs(run_type=jobs.RunType.SUBMIT_RUN)}
    w.jobs.delete(job_id)
    assert w.jobs.get_run(first.run_id).job_id == job_id  # a deleted job's runs stay readable


def test_a_run_beyond_max_concurrent_runs_is_skipped_without_a_queue_and_queued_with_one(w):
    job_id = w.jobs.create(name="Once at a time", tasks=[_task("a", "/Projects/jobs/sleeps")], max_concurrent_runs=1,
                           queue=jobs.QueueSettings(enabled=False)).job_id
    running = w.jobs.run_now(job_id).run_id
    skipped = _wait(w, w.jobs.run_now(job_id).run_id)
    assert skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert skipped.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
    w.jobs.update(job_id, new_settings=jobs.JobSettings(queue=jobs.QueueSettings(enabled=True)))
    queued = w.jobs.run_now(job_id).run_id
    assert w.jobs.get_run(queued).state.life_cycle_state == jobs.RunLifeCycleState.QUEUED
    w.jobs.cancel_run(running)
    _wait(w, queued, until=lambda run: run.state.life_cycle_state != jobs.RunLifeCycleState.QUEUED)  # its turn came
    w.jobs.cancel_run(queued)
    assert _wait(w, queued).state.result_state == jobs.RunResultState.CANCELED


def test_jobs_outlive_the_emulator_process(tmp_path):
    root = tmp_path / "root"
    with EmulatorProcess(root, token=TOKEN) as first:
        job_id = workspace_client(first.url, TOKEN).jobs.create(name="Kept", tasks=[_task("a")]).job_id
    with EmulatorProcess(root, token=TOKEN) as second:
        w = workspace_client(second.url, TOKEN)
        assert w.jobs.get(job_id).settings.name == "Kept"
        assert w.jobs.create(name="Next", tasks=[_task("a")]).job_id > job_id  # the counter survived too


def test_raw_answers_unknown_job_400_and_no_empty_page_token(emulator):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    missing = requests.get(f"{emulator.url}/api/2.1/jobs/get", params={"job_id": 42}, headers=headers, timeout=10)
    assert missing.status_code == 400
    assert missing.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Job 42 does not exist."}
    created = requests.post(f"{emulator.url}/api/2.0/jobs/create", json={"name": "raw"}, headers=headers, timeout=10)
    listed = requests.get(f"{emulator.url}/api/2.2/jobs/list", params={"limit": 1}, headers=headers, timeout=10).json()
    assert listed == {"has_more": False, "jobs": [listed["jobs"][0]]} and listed["jobs"][0]["job_id"] == created.json()["job_id"]
    job = requests.get(f"{emulator.url}/api/2.2/jobs/get", params={"job_id": created.json()["job_id"]}, headers=headers, timeout=10)
    assert job.json()["settings"]["queue"] == {"enabled": False}  # written through 2.0: queueing is on by default only in 2.2
    too_many = requests.get(f"{emulator.url}/api/2.2/jobs/list", params={"limit": 101}, headers=headers, timeout=10)
    assert too_many.status_code == 400 and "between 1 and 100" in too_many.json()["message"]
