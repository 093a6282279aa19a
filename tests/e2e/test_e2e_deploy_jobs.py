"""`invoke deploy` deploys the production jobs (jobs/production/*.json) over the emulator, checked with the
real databricks-sdk and counted in the emulator's request log: a second deploy writes no job, a changed
schedule is one jobs/reset showing old -> new, a job of the same name made by someone else is left alone,
and --dry-run writes nothing."""
from __future__ import annotations

import json
import re
import subprocess

from e2e_helpers import SENTINEL_TOKEN, WORKSPACE_ROOT, is_write, job_writes, succeeded, with_the_ci_job

from bricktasks.testing.emulator import EmulatorProcess, workspace_client

NAME = "Forecast training"




def _ours(client) -> list:
    return [job for job in client.jobs.list(expand_tasks=True)
            if (job.settings.tags or {}).get("bricktasks-root") == WORKSPACE_ROOT]


def test_deploy_creates_then_leaves_unchanged_then_updates_one_field(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)

        first = succeeded(project.invoke("deploy", env=env))
        assert "create     Forecast training (training.json)" in first
        assert job_writes(emulator) == ["create"]
        [job] = _ours(client)
        assert job.settings.name == NAME
        assert job.settings.tags["bricktasks-job"] == "training.json"
        assert job.settings.tags["bricktasks-target"] == "master"
        assert job.settings.tags["team"] == "forecasting"  # the file's own tags kept beside ours
        assert [task.notebook_task.notebook_path for task in job.settings.tasks] == [
            f"{WORKSPACE_ROOT}/master/{name}" for name in ("PrepareData", "ModelTraining", "Evaluate")]
        assert job.settings.schedule.pause_status.value == "UNPAUSED"

        before = len(emulator.requests())
        second = succeeded(project.invoke("deploy", "--json", env=env))
        assert job_writes(emulator) == ["create"], "an unchanged job costs no write"
        record = json.loads(project.invoke("deploy", "--json", env=env).stdout)
        assert [(entry["action"], entry["job_id"], entry["drift"]) for entry in record["jobs"]] == [
            ("unchanged", job.job_id, False)]
        assert "unchanged  Forecast training (training.json, job" in second
        print(f"deploy unchanged x2: {len(emulator.requests()) - before} requests, 0 jobs writes")  # the note's figures (-s)

        path = project.root / "jobs" / "production" / "training.json"
        path.write_text(path.read_text().replace('"0 0 3 * * ?"', '"0 30 4 * * ?"'))
        project.commit_all("train at 04:30")
        before = len(emulator.requests())
        changed = succeeded(project.invoke("deploy", env=env))
        assert job_writes(emulator) == ["create", "reset"]
        print(f"deploy one change: {len(emulator.requests()) - before} requests, 1 jobs write (reset)")
        assert f"update     Forecast training (training.json, job {job.job_id}): 1 field(s)" in changed
        assert 'schedule.quartz_cron_expression: "0 0 3 * * ?" -> "0 30 4 * * ?"' in changed
        assert client.jobs.get(job.job_id).settings.schedule.quartz_cron_expression == "0 30 4 * * ?"
        assert [other.job_id for other in _ours(client)] == [job.job_id]


def test_a_job_of_the_same_name_made_by_someone_else_is_left_alone_and_dry_run_writes_nothing(project, tmp_path, end_checks):
    from databricks.sdk.service import jobs

    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        theirs = client.jobs.create(name=NAME, tasks=[jobs.Task(
            task_key="Train", notebook_task=jobs.NotebookTask(notebook_path="/Users/someone/Train"))]).job_id
        made = client.jobs.get(theirs).settings.as_dict()
        writes = len(job_writes(emulator))

        planned = succeeded(project.invoke("deploy", "--dry-run", env=env))
        assert "create     Forecast training (training.json)" in planned
        assert f"not ours   Forecast training (job {theirs})" in planned
        assert len(job_writes(emulator)) == writes, "--dry-run writes no job"
        assert _ours(client) == []

        deployed = succeeded(project.invoke("deploy", env=env))
        assert f"not ours   Forecast training (job {theirs})" in deployed
        assert job_writes(emulator)[writes:] == ["create"]
        assert client.jobs.get(theirs).settings.as_dict() == made
        assert sorted(job.job_id for job in client.jobs.list(name=NAME)) == sorted([theirs, _ours(client)[0].job_id])


def test_a_removed_definition_is_kept_until_remove_jobs_and_a_bad_one_changes_nothing(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        succeeded(project.invoke("deploy", env=env))
        [job] = _ours(client)

        path = project.root / "jobs" / "production" / "training.json"
        path.write_text(path.read_text().replace('"0 0 3 * * ?"', '"0 0 25 * * ?"'))
        project.commit_all("a bad cron")
        before = len(emulator.requests())
        refused = project.invoke("deploy", env=env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "jobs/production/training.json" in refused.stderr
        assert [request for request in emulator.requests()[before:] if is_write(request)] == [], "checked before master/ changes"

        path.unlink()
        path.parent.rmdir()  # as a fresh clone has it: git keeps no empty folder
        project.commit_all("training no longer a job")
        kept = succeeded(project.invoke("deploy", env=env))
        assert "no jobs/production/ folder" in kept
        assert job_writes(emulator) == ["create"]
        path.parent.mkdir()
        kept = succeeded(project.invoke("deploy", env=env))
        assert f"not in git Forecast training (training.json, job {job.job_id})" in kept
        assert "deploy --remove-jobs deletes it" in kept
        assert job_writes(emulator) == ["create"]
        path.parent.rmdir()  # --remove-jobs finds our jobs without the folder too
        removed = succeeded(project.invoke("deploy", "--remove-jobs", env=env))
        assert f"remove     Forecast training (training.json, job {job.job_id})" in removed
        assert job_writes(emulator) == ["create", "delete"]
        assert _ours(client) == []


def test_deploy_creates_the_job_on_the_local_backend_and_a_second_deploy_leaves_it(project, end_checks):
    end_checks.master_allowed = True
    with_the_ci_job(project)
    assert "create     Forecast training (training.json)" in succeeded(project.invoke("deploy"))
    [job] = project.backend().list_jobs(name=NAME)
    assert job.settings["tags"]["bricktasks-root"] == WORKSPACE_ROOT
    assert job.settings["tasks"][0]["notebook_task"]["notebook_path"] == f"{WORKSPACE_ROOT}/master/PrepareData"
    assert f"unchanged  Forecast training (training.json, job {job.job_id})" in succeeded(project.invoke("deploy"))
    assert [other.job_id for other in project.backend().list_jobs(name=NAME)] == [job.job_id]
