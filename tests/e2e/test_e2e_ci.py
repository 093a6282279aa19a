"""`invoke ci` end to end on the local backend: the example's DAG and its repair, success, failure, timeout,
SIGTERM, re-runs (the other tests use the shorthand: a copy without jobs/ runs BRICKTASKS_CI_NOTEBOOKS)."""
from __future__ import annotations

import json
import re
import shutil
import signal
import xml.etree.ElementTree as ET

import pytest
from e2e_helpers import BROKEN, SLEEPER, SMOKE, processes_mentioning, terminate, wait_until, with_the_ci_job

CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613"}
CI_FOLDER = "/Projects/forecasting/CI/7-BI-5613"


def junit_cases(project):
    tree = ET.parse(project.root / "ci-results" / "test-results.xml")
    return tree.getroot().iter("testcase")


def task_runs(run):
    return {task.task_key: (task.run_id, task.result_state) for task in run.latest_tasks()}


def ci_native(tmp_path):
    """What GitHub Actions and Azure Pipelines set for a step: the step summary file and TF_BUILD (both at once
    here, so one run checks both)."""
    return {"GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"), "TF_BUILD": "True"}


def uploadsummary_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("##vso[task.uploadsummary]")]


@pytest.mark.spark
def test_ci_runs_the_example_dag_and_repair_reruns_only_the_failed_gate(project, tmp_path):
    """jobs/ci.json end to end: PrepareData -> ModelTraining -> Evaluate passing task values, the
    gate failing (a threshold set for this run), then `ci --repair` rerunning Evaluate alone.
    Both endings hand their Markdown summary to the CI system (step summary appended, uploadsummary)."""
    with_the_ci_job(project)
    (tmp_path / "step_summary.md").write_text("## Unit tests\n\npassed\n")  # an earlier step's summary
    failed = project.invoke("ci", env={**CI_ENV, **ci_native(tmp_path), "FORECASTING_MAX_MAE_RATIO": "0.01"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "PrepareData: SUCCESS" in failed.stdout and "ModelTraining: SUCCESS" in failed.stdout
    assert "Evaluate: FAILED" in failed.stdout and "forecast quality too low" in failed.stdout
    backend = project.backend()
    (run,) = backend.list_runs()
    first = task_runs(backend.get_run(run.run_id))
    assert [state for _, state in first.values()] == ["SUCCESS", "SUCCESS", "FAILED"]
    assert [case.get("name") for case in junit_cases(project)] == ["PrepareData", "ModelTraining", "Evaluate"]

    summary_md = project.root / "ci-results" / "summary.md"
    assert uploadsummary_lines(failed.stdout) == [f"##vso[task.uploadsummary]{summary_md.resolve()}"]
    first_summary = (tmp_path / "step_summary.md").read_text()
    assert first_summary.startswith("## Unit tests\n\npassed\n## ❌ bricktasks ci 7-BI-5613: **FAILED**")
    assert "| Evaluate | ❌ FAILED |" in first_summary and "forecast quality too low" in first_summary
    assert "| ModelTraining | mae\\_ratio |" in first_summary  # the metrics of the tasks that passed

    repaired = project.invoke("ci", "--repair", env={**CI_ENV, **ci_native(tmp_path)})  # the threshold back to the config's
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"repairing run {run.run_id} (FAILED)" in repaired.stdout
    after = task_runs(backend.get_run(run.run_id))
    assert after["PrepareData"] == first["PrepareData"] and after["ModelTraining"] == first["ModelTraining"]
    assert after["Evaluate"][0] != first["Evaluate"][0] and after["Evaluate"][1] == "SUCCESS"
    assert len(backend.list_runs()) == 1  # the same run, repaired
    # Evaluate read ModelTraining's values (set before the repair) through taskValues
    gate = json.loads(repaired.stdout.split("Evaluate: SUCCESS; exit value: ", 1)[1].splitlines()[0])
    assert gate["series_in"] == gate["series_forecast"] == 200 and gate["mae_ratio"] < 0.7 and gate["mlflow_run_id"]
    cases = list(junit_cases(project))
    assert [case.get("name") for case in cases] == ["PrepareData", "ModelTraining", "Evaluate"]
    assert all(case.find("failure") is None and case.find("error") is None for case in cases)
    report = (project.root / "ci-results" / "report.html").read_text()
    assert "ModelTraining" in report and "data:image/png;base64," in report
    step_summary = (tmp_path / "step_summary.md").read_text()
    assert step_summary.startswith(first_summary) and step_summary.count("bricktasks ci 7-BI-5613:") == 2  # appended
    assert "## ✅ bricktasks ci 7-BI-5613: **SUCCESS**" in step_summary[len(first_summary):]
    assert "data:" not in step_summary and "figure" in step_summary  # named: the page reaches no file of the build
    assert uploadsummary_lines(repaired.stdout) == [f"##vso[task.uploadsummary]{summary_md.resolve()}"]
    markdown = summary_md.read_text()
    assert markdown.startswith("## ✅ bricktasks ci 7-BI-5613: **SUCCESS**") and "| Evaluate | mae\\_ratio | 0." in markdown
    figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", markdown)
    assert figures and all((project.root / "ci-results" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for figure in figures)
    assert "[report.html](report.html)" in markdown
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


def test_timeout_cancels_the_run_and_exits_124(project, tmp_path):
    project.write_notebook("Sleeper", SLEEPER)
    result = project.invoke("ci", "--timeout", "4s", env={**CI_ENV, **ci_native(tmp_path), "BRICKTASKS_CI_NOTEBOOKS": "Sleeper"})
    assert result.returncode == 124, result.stdout + result.stderr
    step_summary = (tmp_path / "step_summary.md").read_text()  # a timed-out build has its summary too
    assert step_summary.startswith("## ") and "| Sleeper |" in step_summary and "SUCCESS" not in step_summary
    assert uploadsummary_lines(result.stdout) == [f"##vso[task.uploadsummary]{(project.root / 'ci-results' / 'summary.md').resolve()}"]
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
