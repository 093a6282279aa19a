"""`invoke ci` end to end on the local backend: success, failure, timeout, SIGTERM, re-runs."""
from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET

import pytest
from e2e_helpers import BROKEN, SLEEPER, SMOKE, processes_mentioning, terminate, wait_until

CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613"}
CI_FOLDER = "/Projects/forecasting/CI/7-BI-5613"


def junit_cases(project):
    tree = ET.parse(project.root / "ci-results" / "test-results.xml")
    return tree.getroot().iter("testcase")


@pytest.mark.spark
def test_ci_trains_the_example_model_and_reports(project):
    result = project.invoke("ci", env=CI_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ModelTraining: SUCCESS" in result.stdout
    summary = json.loads(result.stdout.split("exit value: ", 1)[1].splitlines()[0])
    assert summary["environment"] == "ci" and summary["series_forecast"] == summary["series_in"] == 200
    assert summary["mae_ratio"] < 0.7
    cases = list(junit_cases(project))
    assert [case.get("name") for case in cases] == ["ModelTraining"]
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    report = (project.root / "ci-results" / "report.html").read_text()
    assert "ModelTraining" in report and "data:image/png;base64," in report
    backend = project.backend()
    manifest = json.loads(backend.export(f"{CI_FOLDER}/.bricktasks-build.json"))
    assert manifest["build_id"] == "7" and manifest["branch"] == "BI-5613" and manifest["result"] == "SUCCESS"
    assert manifest["commit"] == project.git("rev-parse", "HEAD")
    assert b"ci_config" in backend.export(f"{CI_FOLDER}/set_environment")
    wheels = backend.list_files("/Projects/forecasting/libraries/CI/7-BI-5613")
    assert [w.path.rsplit("/", 1)[1] for w in wheels][0].startswith("regimecast-0.4.0.dev7+bi.5613")


def test_ci_attaches_the_builds_library_and_runs_with_the_ci_config(project):
    project.write_notebook("Smoke", SMOKE)
    project.commit_all()
    result = project.invoke("ci", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Smoke"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Smoke: SUCCESS; exit value: ci 0.4.0.dev7+bi.5613.g" in result.stdout


def test_a_failing_notebook_exits_1_and_names_the_cell(project):
    project.write_notebook("Broken", BROKEN)
    result = project.invoke("ci", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Broken"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Broken: FAILED" in result.stdout and "cell 2" in result.stdout
    assert "ValueError: quality below threshold" in result.stdout
    (case,) = junit_cases(project)
    failure = case.find("failure")
    assert failure is not None and "quality below threshold" in failure.get("message")
    assert "cell 2" in failure.get("message")
    assert "Traceback" in (failure.text or "")


def test_timeout_cancels_the_run_and_exits_124(project):
    project.write_notebook("Sleeper", SLEEPER)
    result = project.invoke("ci", "--timeout", "4s", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Sleeper"})
    assert result.returncode == 124, result.stdout + result.stderr
    (run,) = project.backend().list_runs()
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "CANCELED")
    assert processes_mentioning(str(project.root)) == []


def test_sigterm_during_the_wait_cancels_the_run_and_exits_143(project):
    project.write_notebook("Sleeper", SLEEPER)
    process = project.start("ci", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Sleeper"})
    backend = project.backend()
    try:
        wait_until(lambda: any(r.life_cycle_state == "RUNNING" for r in backend.list_runs()), timeout=120)
        terminate(process, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        terminate(process, signal.SIGKILL)
    assert process.returncode == 143, stdout + stderr
    (run,) = backend.list_runs()
    assert run.result_state == "CANCELED"
    wait_until(lambda: processes_mentioning(str(project.root)) == [], timeout=10)
    (case,) = junit_cases(project)
    assert case.find("error") is not None


def test_rerunning_a_build_id_replaces_the_build(project):
    project.write_notebook("Smoke", SMOKE)
    env = {**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Smoke"}
    assert project.invoke("ci", env=env).returncode == 0
    backend = project.backend()
    backend.import_object(f"{CI_FOLDER}/leftover.txt", b"from the first build")
    second = project.invoke("ci", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    names = {info.path.rsplit("/", 1)[1] for info in backend.list(CI_FOLDER)}
    assert "leftover.txt" not in names and "Smoke" in names
    assert len(backend.list_runs()) == 2
    assert len(backend.list_files("/Projects/forecasting/libraries/CI/7-BI-5613")) == 1
