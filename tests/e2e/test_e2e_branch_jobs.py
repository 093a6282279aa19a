"""Branch copies of the production jobs: `invoke checkout BI-5613 --jobs` deploys `[BI-5613] Forecast training`
paused, tagged and on the branch's notebooks (seen with the real databricks-sdk over the emulator), a second
checkout writes no job, and `invoke clean-branch BI-5613` removes the branch's folder, libraries and copy —
never a job without our tags for that branch, never anything on a refused name. On the local backend:
--dry-run plans only, a bad definition changes no folder, a definition gone from git removes its copy.
No notebook runs Spark here:
the only run is a tiny sleeping notebook, to show an active copy is refused, then cancelled with --force."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, is_write, job_writes, succeeded, with_the_ci_job

from bricktasks.testing.emulator import EmulatorProcess, workspace_client

NAME = "Forecast training"
BRANCH = "BI-5613"
COPY = f"[{BRANCH}] {NAME}"




def _jobs_requests(emulator: EmulatorProcess, since: int = 0) -> list[str]:
    return [request["path"] for request in emulator.requests()[since:] if "/jobs/" in request["path"]]


def _writes(emulator: EmulatorProcess, since: int) -> list[dict]:
    return [request for request in emulator.requests()[since:] if is_write(request)]


def _tags(job) -> dict:
    return dict(job.settings.tags or {})


def _copies(client, branch: str = BRANCH) -> list:
    return [job for job in client.jobs.list(expand_tasks=True)
            if _tags(job).get("bricktasks-root") == WORKSPACE_ROOT and _tags(job).get("bricktasks-branch") == branch]


def test_checkout_jobs_makes_a_paused_copy_and_clean_branch_removes_only_what_is_that_branchs(project, tmp_path, end_checks):
    from databricks.sdk.service import jobs

    end_checks.master_allowed = True
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        succeeded(project.invoke("deploy", env=env))
        [master] = [job for job in client.jobs.list(expand_tasks=True) if _tags(job).get("bricktasks-target") == "master"]
        master_settings = client.jobs.get(master.job_id).settings.as_dict()
        # someone's own job with the copy's display name, and another branch's copy: neither is BI-5613's
        theirs = client.jobs.create(name=COPY, tasks=[jobs.Task(
            task_key="Train", notebook_task=jobs.NotebookTask(notebook_path="/Users/someone/Train"))]).job_id
        succeeded(project.invoke("checkout", "BI-7000", "--jobs", env=env))
        [other] = _copies(client, "BI-7000")

        succeeded(project.invoke("upload-lib", "--branch", BRANCH, env=env))
        before = len(emulator.requests())
        first = succeeded(project.invoke("checkout", BRANCH, "--jobs", env=env))
        print(f"checkout --jobs (create): {len(emulator.requests()) - before} requests, "
              f"{len(_jobs_requests(emulator, before))} jobs requests, writes {job_writes(emulator, before)}")
        assert job_writes(emulator, before) == ["create"]
        assert "create     [BI-5613] Forecast training (training.json)" in first
        assert f"not ours   [BI-5613] Forecast training (job {theirs})" in first
        [copy] = _copies(client)
        settings = client.jobs.get(copy.job_id).settings
        assert settings.name == COPY
        assert settings.schedule.pause_status.value == "PAUSED"
        ours = {key: value for key, value in _tags(copy).items() if key.startswith("bricktasks-")}
        assert ours.pop("bricktasks-deployed-hash")
        assert ours == {
            "bricktasks-root": WORKSPACE_ROOT, "bricktasks-job": "training.json", "bricktasks-target": "branch",
            "bricktasks-branch": BRANCH}
        assert [task.notebook_task.notebook_path for task in settings.tasks] == [
            f"{WORKSPACE_ROOT}/{BRANCH}/{name}" for name in ("PrepareData", "ModelTraining", "Evaluate")]
        assert client.jobs.get(master.job_id).settings.as_dict() == master_settings, "master's job unchanged"

        before = len(emulator.requests())
        second = project.invoke("checkout", BRANCH, "--jobs", "--json", env=env)
        succeeded(second)
        print(f"checkout --jobs (unchanged): {len(emulator.requests()) - before} requests, "
              f"{len(_jobs_requests(emulator, before))} jobs requests, 0 jobs writes")
        assert job_writes(emulator, before) == [], "an unchanged copy costs no write"
        record = json.loads(second.stdout)
        assert [(entry["action"], entry["job_id"]) for entry in record["jobs"]] == [
            ("unchanged", copy.job_id), ("not-ours", theirs)]

        libraries = f"{WORKSPACE_ROOT}/libraries/{BRANCH}"  # the example's library root: workspace files
        before = len(emulator.requests())
        planned = succeeded(project.invoke("clean-branch", BRANCH, "--dry-run", env=env))
        assert _writes(emulator, before) == [], "--dry-run writes nothing"
        assert f"would remove folder {WORKSPACE_ROOT}/{BRANCH}" in planned
        assert f"would remove job {copy.job_id}: {COPY}" in planned
        assert f"would remove libraries {libraries}" in planned

        before = len(emulator.requests())
        cleaned = project.invoke("clean-branch", BRANCH, "--json", env=env)
        print(f"clean-branch: {len(emulator.requests()) - before} requests, {len(_writes(emulator, before))} writes")
        succeeded(cleaned)
        record = json.loads(cleaned.stdout)
        assert sorted(line.split(" ", 1)[0] for line in record["removed"]) == ["folder", "job", "libraries"]
        assert job_writes(emulator, before) == ["delete"]
        assert _copies(client) == []
        assert [job.job_id for job in _copies(client, "BI-7000")] == [other.job_id], "another branch's copy stays"
        assert client.jobs.get(theirs).settings.name == COPY, "a job without our tags stays"
        assert client.jobs.get(master.job_id).settings.as_dict() == master_settings
        assert not any(item.path.endswith(f"/{BRANCH}") for item in client.workspace.list(WORKSPACE_ROOT))
        assert f"libraries {libraries}" in record["removed"]
        assert not any(item.path == libraries for item in client.workspace.list(f"{WORKSPACE_ROOT}/libraries"))

        again = succeeded(project.invoke("clean-branch", BRANCH, env=env))
        assert "already gone" in again and "removed 0 for BI-5613, already gone 2" in again


def test_clean_branch_refuses_protected_reserved_and_unsafe_names_with_no_request(project, tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        for name in ("master", "main", "CI", "libraries", "../x", "a\x1b[2Jb"):
            refused = project.invoke("clean-branch", name, env=env)
            assert refused.returncode == 2, (name, refused.stdout + refused.stderr)
            assert "Traceback" not in refused.stderr and "\x1b" not in refused.stderr + refused.stdout
            assert emulator.requests() == [], f"{name!r}: refused before any request"


SLEEPER = HEADER + "import time\ntime.sleep(120)\n"


def test_an_active_copy_is_refused_then_cancelled_with_force_on_the_local_backend(project, end_checks):
    with_the_ci_job(project)
    (project.root / "forecasting" / "Sleep.py").write_text(SLEEPER)
    project.commit_all("a notebook that sleeps")
    succeeded(project.invoke("checkout", BRANCH, "--jobs"))
    backend = project.backend()
    [copy] = backend.list_jobs(name=COPY)
    assert copy.settings["schedule"]["pause_status"] == "PAUSED"
    assert copy.settings["tags"]["bricktasks-branch"] == BRANCH
    # a second, tiny copy of ours for the branch, so that the run is cheap: no Spark
    sleeper = backend.create_job({"name": f"[{BRANCH}] Sleep", "tags": {**copy.settings["tags"], "bricktasks-job": "sleep.json"},
                                  "tasks": [{"task_key": "Sleep", "notebook_task": {
                                      "notebook_path": f"{WORKSPACE_ROOT}/{BRANCH}/Sleep"}}]})
    run_id = backend.run_now(sleeper)

    refused = project.invoke("clean-branch", BRANCH)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"job {sleeper} (run {run_id})" in refused.stderr and "--force" in refused.stderr
    assert {job.job_id for job in backend.list_jobs()} >= {copy.job_id, sleeper}, "refused: nothing deleted"

    cleaned = succeeded(project.invoke("clean-branch", BRANCH, "--force"))
    assert f"cancelled run {run_id} of job {sleeper}" in cleaned
    assert backend.list_jobs(name=COPY) == [] and backend.list_jobs(name=f"[{BRANCH}] Sleep") == []
    assert backend.get_run(run_id).is_terminal
    assert f"removed folder {WORKSPACE_ROOT}/{BRANCH}" in cleaned


def test_checkout_jobs_dry_run_a_bad_definition_and_a_removed_one_on_the_local_backend(project, end_checks):
    with_the_ci_job(project)
    succeeded(project.invoke("checkout", BRANCH, "--jobs"))
    backend = project.backend()
    [copy] = backend.list_jobs(name=COPY)
    definition = project.root / "jobs" / "production" / "training.json"
    original = definition.read_text()

    definition.write_text(original.replace('"0 0 3 * * ?"', '"0 30 4 * * ?"'))
    planned = succeeded(project.invoke("checkout", BRANCH, "--jobs", "--dry-run"))
    assert f"update     {COPY} (training.json, job {copy.job_id}): 1 field(s)" in planned
    assert backend.get_job(copy.job_id).settings == copy.settings, "--dry-run changes no job"

    notebook = f"{WORKSPACE_ROOT}/{BRANCH}/Evaluate"
    before = backend.export(notebook)
    (project.root / "forecasting" / "Evaluate.py").write_text(HEADER + "print('changed')\n")
    definition.write_text(original.replace('"0 0 3 * * ?"', '"0 0 25 * * ?"'))
    refused = project.invoke("checkout", BRANCH, "--jobs")
    assert refused.returncode == 2 and "jobs/production/training.json" in refused.stderr, refused.stdout + refused.stderr
    assert backend.export(notebook) == before, "a bad definition is refused before the folder changes"

    definition.unlink()
    removed = succeeded(project.invoke("checkout", BRANCH, "--jobs"))
    assert f"remove     {COPY} (training.json, job {copy.job_id}): its definition is gone" in removed
    assert backend.list_jobs(name=COPY) == []
