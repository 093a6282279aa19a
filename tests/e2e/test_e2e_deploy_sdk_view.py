"""What the real databricks-sdk sees of a deploy over the emulator, and master's wheel on a classic-compute
production job: jobs/get returns exactly the settings deploy computed (desired_settings + the hash tag),
jobs/list finds it by name, run_now starts a JOB_RUN of it; two deploys of the same commit name the same
wheel, and so does a later commit that leaves libs/ alone (0 job writes); a commit that changes the library
is one update naming the library change."""
from __future__ import annotations

import json
import re
import subprocess

from e2e_helpers import HEADER, SENTINEL_TOKEN, WORKSPACE_ROOT, job_writes, with_the_ci_job

from bricktasks.jobdef.production import load_production_jobs
from bricktasks.jobs.desired import desired_settings, ownership_tags
from bricktasks.jobs.plan import comparable, with_hash
from bricktasks.libraries.upload import library_spec
from bricktasks.testing.emulator import EmulatorProcess, workspace_client

NAME = "Hello on a cluster"
HELLO = HEADER + 'dbutils.notebook.exit("hello")\n'  # no Spark, no library import: the run's content does not matter
CLASSIC = {
    "name": NAME,
    "max_concurrent_runs": 2,
    "job_clusters": [{"job_cluster_key": "small", "new_cluster": {
        "spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_F4s_v2", "num_workers": 0}}],
    "tasks": [{"task_key": "Hello", "job_cluster_key": "small", "notebook_task": {"notebook_path": "Hello"}}],
}


def _deploy(project, env: dict[str, str]) -> dict:
    result = project.invoke("deploy", "--json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)



def _desired(project, libraries: list[str]) -> dict:
    """The settings deploy should have sent for the classic job, computed here from the file."""
    jobs = load_production_jobs(project.root / "jobs" / "production", shown="jobs/production",
                                notebooks=["PrepareData", "ModelTraining", "Evaluate", "Hello"], source_dir="forecasting")
    [job] = [job for job in jobs if job.file == "hello.json"]
    return with_hash(desired_settings(job, target_folder=f"{WORKSPACE_ROOT}/master",
                                      libraries=[library_spec(remote) for remote in libraries],
                                      tags=ownership_tags(workspace_root=WORKSPACE_ROOT, file=job.file)))


def test_the_sdk_sees_the_deployed_classic_job_with_masters_wheel_and_runs_it(project, tmp_path, end_checks):
    from databricks.sdk.service.jobs import RunType, TriggerType

    end_checks.master_allowed = True
    with_the_ci_job(project)
    (project.root / "forecasting" / "Hello.py").write_text(HELLO)
    (project.root / "jobs" / "production" / "hello.json").write_text(json.dumps(CLASSIC, indent=2))
    project.commit_all("a classic-compute production job")
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        first = _deploy(project, env)
        assert sorted(entry["action"] for entry in first["jobs"]) == ["create", "create"]
        [wheel] = [remote for remote in first["libraries"] if remote.endswith(".whl")]

        [listed] = list(client.jobs.list(name=NAME, expand_tasks=True))
        got = client.jobs.get(listed.job_id).settings.as_dict()
        sent = _desired(project, first["libraries"])
        assert comparable(got) == comparable(sent), "jobs/get echoes what deploy sent, server defaults aside"
        assert got["tags"] == sent["tags"] and got["name"] == NAME
        [task] = got["tasks"]
        assert task["notebook_task"]["notebook_path"] == f"{WORKSPACE_ROOT}/master/Hello"
        assert library_spec(wheel) in task["libraries"], "master's wheel on the classic task"
        assert listed.settings.as_dict()["tasks"] == got["tasks"], "jobs/list with expand_tasks carries the same"

        writes = job_writes(emulator)
        second = _deploy(project, env)
        assert second["libraries"] == first["libraries"], "the same commit builds the same wheel name"
        assert [entry["action"] for entry in second["jobs"]] == ["unchanged", "unchanged"]
        assert job_writes(emulator) == writes, "an unchanged commit is an unchanged job: 0 writes"

        (project.root / "forecasting" / "Hello.py").write_text(HELLO + "# a notebook-only change\n")
        project.commit_all("a commit that leaves the library alone")
        notebook_only = _deploy(project, env)
        assert notebook_only["libraries"] == first["libraries"], "the wheel names the library's last commit, not HEAD"
        assert [entry["action"] for entry in notebook_only["jobs"]] == ["unchanged", "unchanged"]
        assert job_writes(emulator) == writes

        version = project.root / "libs" / "regimecast" / "regimecast" / "_version.py"
        version.write_text(re.sub(r'"(\d+)\.(\d+)\.(\d+)"', lambda m: f'"{m[1]}.{int(m[2]) + 1}.0"', version.read_text()))
        project.commit_all("regimecast: a new minor version")
        third = _deploy(project, env)
        [new_wheel] = [remote for remote in third["libraries"] if remote.endswith(".whl")]
        assert new_wheel != wheel
        [update] = [entry for entry in third["jobs"] if entry["action"] != "unchanged"]
        assert (update["file"], update["action"], update["drift"]) == ("hello.json", "update", False)
        assert [(change["field"], change["old"], change["new"]) for change in update["changes"]] == [
            ("tasks[Hello].libraries[0].whl", library_spec(wheel)["whl"], library_spec(new_wheel)["whl"])]
        assert job_writes(emulator) == [*writes, "reset"]

        started = client.jobs.run_now(listed.job_id)
        run = client.jobs.get_run(started.run_id)
        assert (run.job_id, run.run_type, run.number_in_job, run.trigger) == (
            listed.job_id, RunType.JOB_RUN, started.run_id, TriggerType.ONE_TIME)  # 2.1+: number_in_job == run_id
        finished = client.jobs.wait_get_run_job_terminated_or_skipped(started.run_id)
        assert finished.state.result_state.value == "SUCCESS", finished.state
        assert [task.libraries for task in finished.tasks] == [client.jobs.get(listed.job_id).settings.tasks[0].libraries]
        assert [run.run_id for run in client.jobs.list_runs(job_id=listed.job_id)] == [started.run_id]
