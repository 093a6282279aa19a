"""`invoke jobs` and `invoke run-job NAME` over the emulator (checked with the real databricks-sdk and the
emulator's request log) and on the local backend: deploy, list, run to success with ci's reports (a JUnit
case per task), a failing run, a skipped run (max_concurrent_runs), --no-wait, SIGTERM cancelling the
run, refusals before run-now, a branch's copy. The jobs are tiny (no Spark, no libraries): what a run
does is not under test here, how run-job starts, waits for and reports it is."""
from __future__ import annotations

import json
import signal
import subprocess
import xml.etree.ElementTree as ET

from e2e_helpers import HEADER, SENTINEL_TOKEN, SLEEPER, WORKSPACE_ROOT, succeeded, terminate, wait_until, with_the_ci_job

from bricktasks.backends.local import LocalBackend
from bricktasks.jobs.deploy import load_master_jobs
from bricktasks.jobs.desired import desired_jobs
from bricktasks.project import load_project
from bricktasks.testing.emulator import EmulatorProcess, workspace_client

HELLO = HEADER + 'dbutils.widgets.text("greeting", "hi")\ndbutils.notebook.exit(dbutils.widgets.get("greeting"))\n'
AFTER = HEADER + 'dbutils.notebook.exit("after")\n'
FAILS = HEADER + 'raise ValueError("quality below threshold")\n'
ENVIRONMENTS = [{"environment_key": "tiny", "spec": {"environment_version": "2"}}]


def _task(key: str, notebook: str, *after: str) -> dict:
    task = {"task_key": key, "notebook_task": {"notebook_path": notebook}, "environment_key": "tiny"}
    if after:
        task["depends_on"] = [{"task_key": upstream} for upstream in after]
    return task


DEFINITIONS = {
    "smoke.json": {"name": "Smoke test", "parameters": [{"name": "greeting", "default": "hi"}],
                   "schedule": {"quartz_cron_expression": "0 0 5 * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"},
                   "environments": ENVIRONMENTS, "tasks": [_task("Hello", "RjHello"), _task("After", "RjAfter", "Hello")]},
    "failing.json": {"name": "Failing job", "environments": ENVIRONMENTS, "tasks": [_task("Fails", "RjFails")]},
    "sleeper.json": {"name": "Sleeper", "max_concurrent_runs": 1, "queue": {"enabled": False},
                     "environments": ENVIRONMENTS, "tasks": [_task("Sleep", "RjSleeper")]},
}


def _with_tiny_jobs(project) -> None:
    with_the_ci_job(project)
    (project.root / "jobs" / "production" / "training.json").unlink()  # run-job runs only the named job; a short plan
    for name, source in (("RjHello", HELLO), ("RjAfter", AFTER), ("RjFails", FAILS), ("RjSleeper", SLEEPER)):
        project.write_notebook(name, source)
    for file, definition in DEFINITIONS.items():
        (project.root / "jobs" / "production" / file).write_text(json.dumps(definition, indent=2))
    project.commit_all("tiny production jobs")



def _record(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _junit_cases(project) -> dict[str, bool]:
    """Each JUnit case's name -> whether it failed."""
    tree = ET.parse(project.root / "ci-results" / "test-results.xml")
    return {case.get("name"): case.find("failure") is not None or case.find("error") is not None for case in tree.iter("testcase")}


def _run_nows(emulator: EmulatorProcess) -> int:
    return sum(request["path"].endswith("/jobs/run-now") for request in emulator.requests())


def _waiting(requests: list[dict]) -> bool:
    paths = [request["path"] for request in requests]
    started = [number for number, path in enumerate(paths) if path.endswith("/jobs/run-now")]
    return bool(started) and sum(path.endswith("/jobs/runs/get") for path in paths[started[0]:]) >= 2


def test_jobs_and_run_job_over_the_emulator(project, tmp_path, end_checks):
    end_checks.master_allowed = True
    _with_tiny_jobs(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        succeeded(project.invoke("deploy", env=env))

        before = len(emulator.requests())
        listed = _record(project.invoke("jobs", "--json", env=env))
        requests = emulator.requests()[before:]
        lists = [r for r in requests if r["path"].endswith("/jobs/list")]
        runs_lists = [r for r in requests if r["path"].endswith("/jobs/runs/list")]
        # the report's figure (-s); the rest is the SDK's /.well-known/databricks-config probe
        print(f"invoke jobs, 3 jobs: {len(requests)} requests ({len(lists)} jobs/list, {len(runs_lists)} runs/list)")
        assert len(lists) == 1 and len(runs_lists) == 3, [r["path"] for r in requests]
        assert lists[0]["query"].get("expand_tasks") == "true"
        assert all(r["query"].get("limit") == "1" for r in runs_lists), "the newest run only: one short page"
        by_name = {job["name"]: job for job in listed["jobs"]}
        assert set(by_name) == {"Smoke test", "Failing job", "Sleeper"}
        smoke = by_name["Smoke test"]
        assert (smoke["target"], smoke["file"], smoke["last_result"]) == ("master", "smoke.json", "no run")
        assert smoke["schedule"] == "0 0 5 * * ? UTC PAUSED" and by_name["Sleeper"]["schedule"] == "no schedule"
        assert smoke["url"] == f"{emulator.url}/jobs/{smoke['job_id']}"

        # refused before run-now: an unknown job (with the closest names), an unknown parameter, a bad one
        unknown = project.invoke("run-job", "Smoke tset", env=env)
        assert unknown.returncode == 2 and "did you mean: Smoke test" in unknown.stderr, unknown.stderr
        bad_param = project.invoke("run-job", "smoke", "--param", "colour=red", env=env)
        assert bad_param.returncode == 2 and "its parameters are: greeting" in bad_param.stderr, bad_param.stderr
        assert project.invoke("run-job", "smoke", "--param", "greeting", env=env).returncode == 2
        assert _run_nows(emulator) == 0

        ran = project.invoke("run-job", "smoke.json", "--param", "greeting=hello", "--json", env=env)
        record = _record(ran)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert record["result"] == "SUCCESS" and record["job_id"] == smoke["job_id"]
        assert [(nb["task_key"], nb["exit_value"]) for nb in record["notebooks"]] == [("Hello", "hello"), ("After", "after")]
        assert _junit_cases(project) == {"Hello": False, "After": False}
        summary = json.loads((project.root / "ci-results" / "summary.json").read_text())
        assert (summary["build_id"], summary["branch"]) == ("Smoke test", "master")
        assert (project.root / "ci-results" / "report.html").is_file()
        [run] = list(client.jobs.list_runs(job_id=smoke["job_id"]))
        assert run.run_id == record["run_id"] and run.run_type.value == "JOB_RUN"
        assert _run_nows(emulator) == 1

        after = {job["name"]: job for job in _record(project.invoke("jobs", "--json", env=env))["jobs"]}
        assert (after["Smoke test"]["last_result"], after["Smoke test"]["last_run_id"]) == ("SUCCESS", record["run_id"])
        assert "SUCCESS" in succeeded(project.invoke("jobs", env=env))

        failed = project.invoke("run-job", "Failing job", env=env)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert _junit_cases(project) == {"Fails": True}
        assert "quality below threshold" in failed.stdout

        # --no-wait: the URL, exit 0, the run goes on; a second run beyond max_concurrent_runs 1 is skipped
        started = project.invoke("run-job", "sleeper", "--no-wait", "--json", env=env)
        assert started.returncode == 0, started.stderr
        first = _record(started)
        assert first["run_page_url"] and first["run_page_url"] in started.stderr + started.stdout
        assert not client.jobs.get_run(first["run_id"]).state.life_cycle_state.value.startswith("TERMINATED")
        skipped = project.invoke("run-job", "Sleeper", env=env)
        assert skipped.returncode == 1 and "was skipped" in skipped.stdout, skipped.stdout + skipped.stderr
        client.jobs.cancel_run(first["run_id"])
        wait_until(lambda: client.jobs.get_run(first["run_id"]).state.life_cycle_state.value == "TERMINATED", timeout=30)

        # SIGTERM while run-job waits: the run is cancelled, exit 143
        seen = len(emulator.requests())
        process = project.start("run-job", "sleeper", "--json", env=env)
        try:  # the wait has begun: run-now answered, then the run polled
            wait_until(lambda: _waiting(emulator.requests()[seen:]), timeout=60, interval=0.05)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            terminate(process, signal.SIGKILL)
        assert process.returncode == 143, stdout + stderr
        interrupted = json.loads(stdout.strip().splitlines()[-1])
        wait_until(lambda: client.jobs.get_run(interrupted["run_id"]).state.life_cycle_state.value == "TERMINATED", timeout=30)
        assert client.jobs.get_run(interrupted["run_id"]).state.result_state.value == "CANCELED"
        assert _junit_cases(project) == {"Sleep": True}  # reported like ci: the cancelled task is a failure

        # --timeout: the run is cancelled, exit 124
        timed_out = project.invoke("run-job", "sleeper", "--timeout", "2s", "--json", env=env)
        assert timed_out.returncode == 124, timed_out.stdout + timed_out.stderr
        late = _record(timed_out)["run_id"]
        wait_until(lambda: client.jobs.get_run(late).state.life_cycle_state.value == "TERMINATED", timeout=30)
        assert client.jobs.get_run(late).state.result_state.value == "CANCELED"


def test_a_branch_copy_is_listed_and_run_with_branch(project, tmp_path, end_checks):
    """Until `checkout --jobs` lands, the copy is made as it would: desired_jobs(branch=) + create_job."""
    _with_tiny_jobs(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": emulator.url}
        loaded = load_project(project.root, {}, {})
        jobs = load_master_jobs(loaded) or []
        for _file, settings in desired_jobs(jobs, workspace_root=WORKSPACE_ROOT, target_folder=loaded.layout.branch("BI-1"),
                                             libraries=[], branch="BI-1"):
            LocalBackend(emulator.root).create_job(settings)
        listed = _record(project.invoke("jobs", "--branch", "BI-1", "--json", env=env))["jobs"]
        assert {(job["name"], job["target"]) for job in listed} == {
            ("[BI-1] Smoke test", "branch BI-1"), ("[BI-1] Failing job", "branch BI-1"), ("[BI-1] Sleeper", "branch BI-1")}
        assert _record(project.invoke("jobs", "--master", "--json", env=env))["jobs"] == []
        assert "no saved jobs of master" in succeeded(project.invoke("jobs", "--master", env=env))
        refused = project.invoke("run-job", "Smoke test", env=env)  # master has none: nothing is started
        assert refused.returncode == 2 and "invoke deploy" in refused.stderr, refused.stderr
        copy = next(job for job in listed if job["file"] == "smoke.json")
        succeeded(project.invoke("checkout", "BI-1", env=env))  # the copy's notebooks
        ran = project.invoke("run-job", "Smoke test", "--branch", "BI-1", "--json", env=env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        record = _record(ran)
        assert record["job_id"] == copy["job_id"] and record["target"] == "branch BI-1"
        assert LocalBackend(emulator.root).get_run(record["run_id"]).job_id == copy["job_id"]
        summary = json.loads((project.root / "ci-results" / "summary.json").read_text())
        assert (summary["build_id"], summary["branch"], summary["ci_folder"]) == (
            "[BI-1] Smoke test", "branch BI-1", f"{WORKSPACE_ROOT}/BI-1")
        assert project.invoke("run-job", "Smoke test", "--branch", "BI-\x1b[2J", env=env).returncode == 2


def test_jobs_and_run_job_on_the_local_backend(project, end_checks, tmp_path):
    end_checks.master_allowed = True
    _with_tiny_jobs(project)
    assert "no saved jobs" in succeeded(project.invoke("jobs"))
    succeeded(project.invoke("deploy"))
    assert "no run" in succeeded(project.invoke("jobs"))
    step_summary = tmp_path / "step_summary.md"
    ran = project.invoke("run-job", "Smoke test", "--json", env={"GITHUB_STEP_SUMMARY": str(step_summary), "TF_BUILD": "True"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    record = _record(ran)
    # the Markdown summary as ci hands it over; with --json the human lines (and the command) are on stderr
    markdown = project.root / "ci-results" / "summary.md"
    assert record["reports"]["markdown"] == str(markdown)
    assert f"##vso[task.uploadsummary]{markdown.resolve()}" in ran.stderr.splitlines()
    assert step_summary.read_text().startswith("## ✅ bricktasks ci Smoke test-master: **SUCCESS**")
    assert "| Hello | ✅ SUCCESS |" in markdown.read_text() and "| After | ✅ SUCCESS |" in step_summary.read_text()
    assert _junit_cases(project) == {"Hello": False, "After": False}
    [job] = project.backend().list_jobs(name="Smoke test")
    [run] = project.backend().list_runs(job_id=job.job_id)
    assert run.run_id == record["run_id"] and run.succeeded
    listed = {job["name"]: job for job in _record(project.invoke("jobs", "--json"))["jobs"]}
    assert (listed["Smoke test"]["last_result"], listed["Smoke test"]["url"]) == ("SUCCESS", None)
