"""A UI edit of a deployed job, made through the real databricks-sdk over the emulator, is reported by
`deploy --dry-run` as drift with old -> new and no write; only `deploy` overwrites it (one jobs/reset),
after which the SDK sees git's settings and the next deploy is unchanged with no drift and no job write.
A UI edit that a later commit happens to match is drift whose settings "match git again"."""
from __future__ import annotations

import json
import re
import subprocess

from e2e_helpers import SENTINEL_TOKEN, WORKSPACE_ROOT, job_writes, succeeded, with_the_ci_job

from bricktasks.testing.emulator import EmulatorProcess, workspace_client

NAME = "Forecast training"




def _ui_edit(client, job_id: int, **fields) -> None:
    """What a click in the Jobs UI sends: jobs/update with the edited fields only (the hash tag stays)."""
    from databricks.sdk.service.jobs import JobSettings

    client.jobs.update(job_id, new_settings=JobSettings.from_dict(fields))


def test_a_ui_edit_is_drift_shown_by_the_dry_run_and_overwritten_only_by_deploy(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        succeeded(project.invoke("deploy", env=env))
        [job] = [job for job in client.jobs.list(name=NAME)
                 if (job.settings.tags or {}).get("bricktasks-root") == WORKSPACE_ROOT]
        deployed = client.jobs.get(job.job_id).settings.as_dict()

        schedule = {**deployed["schedule"], "quartz_cron_expression": "0 0 5 * * ?"}
        tasks = [{**task, "timeout_seconds": 1200} if task["task_key"] == "Evaluate" else task for task in deployed["tasks"]]
        _ui_edit(client, job.job_id, max_concurrent_runs=3, schedule=schedule, tasks=tasks)
        edited = client.jobs.get(job.job_id).settings.as_dict()
        assert edited["max_concurrent_runs"] == 3 and edited["tags"] == deployed["tags"]
        writes = job_writes(emulator)

        planned = succeeded(project.invoke("deploy", "--dry-run", env=env))
        assert f"update     Forecast training (training.json, job {job.job_id}): 3 field(s)" in planned
        assert "    max_concurrent_runs: 3 -> 1" in planned
        assert '    schedule.quartz_cron_expression: "0 0 5 * * ?" -> "0 0 3 * * ?"' in planned
        assert "    tasks[Evaluate].timeout_seconds: 1200 -> 600" in planned
        assert (f"drift      Forecast training (job {job.job_id}): edited in the UI since the last deploy; "
                "deploy overwrites it") in planned
        assert job_writes(emulator) == writes, "--dry-run writes no job"
        assert client.jobs.get(job.job_id).settings.as_dict() == edited

        overwritten = project.invoke("deploy", "--json", env=env)
        assert overwritten.returncode == 0, overwritten.stdout + overwritten.stderr
        [entry] = json.loads(overwritten.stdout)["jobs"]
        assert (entry["action"], entry["drift"]) == ("update", True)
        assert {change["field"]: (change["old"], change["new"]) for change in entry["changes"]} == {
            "max_concurrent_runs": (3, 1), "schedule.quartz_cron_expression": ("0 0 5 * * ?", "0 0 3 * * ?"),
            "tasks[Evaluate].timeout_seconds": (1200, 600)}
        assert job_writes(emulator) == [*writes, "reset"], "one deploy, one reset"
        assert client.jobs.get(job.job_id).settings.as_dict() == deployed, "the SDK sees git's settings again"

        before = len(emulator.requests())
        again = succeeded(project.invoke("deploy", env=env))
        assert f"unchanged  Forecast training (training.json, job {job.job_id})" in again
        assert "drift" not in again
        assert job_writes(emulator) == [*writes, "reset"]
        print(f"deploy after overwriting drift: {len(emulator.requests()) - before} requests, 0 jobs writes")


def test_a_ui_edit_that_a_later_commit_matches_is_drift_that_matches_git_again(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        succeeded(project.invoke("deploy", env=env))
        [job] = list(client.jobs.list(name=NAME))
        _ui_edit(client, job.job_id, max_concurrent_runs=3)
        edited = client.jobs.get(job.job_id).settings.as_dict()

        path = project.root / "jobs" / "production" / "training.json"
        path.write_text(path.read_text().replace('"max_concurrent_runs": 1', '"max_concurrent_runs": 3'))
        project.commit_all("allow three concurrent trainings, as set in the UI")
        caught_up = succeeded(project.invoke("deploy", env=env))
        assert f"update     Forecast training (training.json, job {job.job_id}): 1 field(s)" in caught_up
        assert "    tags.bricktasks-deployed-hash: " in caught_up, "only the hash is written"
        assert (f"drift      Forecast training (job {job.job_id}): edited in the UI since the last deploy; "
                "its settings match git again") in caught_up
        written = client.jobs.get(job.job_id).settings.as_dict()
        assert {**written, "tags": {}} == {**edited, "tags": {}}, "nothing but the hash tag changed"
        assert written["tags"]["bricktasks-deployed-hash"] != edited["tags"]["bricktasks-deployed-hash"]

        writes = job_writes(emulator)
        again = succeeded(project.invoke("deploy", env=env))
        assert f"unchanged  Forecast training (training.json, job {job.job_id})" in again and "drift" not in again
        assert job_writes(emulator) == writes == ["create", "update", "reset"]
