"""ci runs a job definition's DAG on the local backend and repairs it: tiny notebooks (no Spark)
passing task values downstream, a failure giving UPSTREAM_FAILED below it and exit 1, then
`repair_ci` rerunning only the failed and skipped tasks, with the build's uploads."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from bricktasks.buildinfo import BuildInfo
from bricktasks.ci import pipeline
from bricktasks.ci.manifest import read_build_manifest
from bricktasks.errors import UserInputError
from bricktasks.tasks import _ci_plan

HEADER = "# Databricks notebook source\n"
BUILD = BuildInfo("5", "BI-5", None, "bricktasks")
FOLDER = "/Projects/forecasting/CI/5-BI-5"
NOTEBOOKS = {
    "dag/Prepare.py": HEADER + 'dbutils.jobs.taskValues.set(key="rows", value=21)\n',
    "dag/Train.py": HEADER + """import os

# COMMAND ----------

rows = dbutils.jobs.taskValues.get(taskKey="Prepare", key="rows", debugValue=0)
if os.environ.get("DAG_TEST_FAIL_TRAIN"):
    raise RuntimeError("training diverged")
dbutils.jobs.taskValues.set(key="score", value=rows * 2)
dbutils.notebook.exit(f"{dbutils.widgets.get('build')} {rows}")
""",
    "dag/Gate.py": HEADER + 'dbutils.notebook.exit(str(dbutils.jobs.taskValues.get(taskKey="Train", key="score", debugValue=0)))\n',
}
JOB = {
    "tasks": [
        {"task_key": "Prepare", "notebook_task": {"notebook_path": "dag/Prepare"}},
        {"task_key": "Train", "notebook_task": {"notebook_path": "dag/Train"}, "depends_on": [{"task_key": "Prepare"}]},
        {"task_key": "Gate", "notebook_task": {"notebook_path": "dag/Gate"}, "depends_on": [{"task_key": "Train"}]},
    ]
}


@pytest.fixture
def dag_project(make_project, project_dir, add_files):
    add_files(project_dir / "forecasting", NOTEBOOKS)
    (project_dir / "jobs").mkdir()
    (project_dir / "jobs" / "ci.json").write_text(json.dumps(JOB))
    return make_project()


def _states(run):
    return {task.task_key: task.result_state for task in run.latest_tasks()}


def test_a_failed_task_skips_its_downstream_and_repair_reruns_only_those(dag_project, backend, recording, monkeypatch):
    plan = _ci_plan(dag_project, BUILD, None)
    monkeypatch.setenv("DAG_TEST_FAIL_TRAIN", "1")
    failed = pipeline.run_ci(dag_project, backend, plan, artifacts=[], timeout_s=120, console=recording.console, secrets=[])
    assert failed.exit_code == 1
    run_id = read_build_manifest(backend, FOLDER)["run_id"]
    run = backend.get_run(run_id)
    assert _states(run) == {"Prepare": "SUCCESS", "Train": "FAILED", "Gate": "UPSTREAM_FAILED"}
    assert (run.life_cycle_state, run.result_state) == ("INTERNAL_ERROR", "FAILED")
    first = {task.task_key: task.run_id for task in run.latest_tasks()}
    cases = list(ET.parse(dag_project.results_dir / "test-results.xml").getroot().iter("testcase"))
    assert len(cases) == 3  # one per task (named by the report helper's rule: the task's key or notebook)

    monkeypatch.delenv("DAG_TEST_FAIL_TRAIN")  # the flaky step is cured: repair, with nothing uploaded again
    uploaded = {info.path: info.modified_at for info in backend.list(f"{FOLDER}/dag")}
    repaired = pipeline.repair_ci(dag_project, backend, plan, timeout_s=120, console=recording.console, secrets=[])
    assert {info.path: info.modified_at for info in backend.list(f"{FOLDER}/dag")} == uploaded
    assert repaired.exit_code == 0 and repaired.run_id == run_id
    run = backend.get_run(run_id)
    assert run.succeeded and _states(run) == {"Prepare": "SUCCESS", "Train": "SUCCESS", "Gate": "SUCCESS"}
    latest = {task.task_key: task.run_id for task in run.latest_tasks()}
    assert latest["Prepare"] == first["Prepare"]  # kept, not rerun
    assert latest["Train"] != first["Train"] and latest["Gate"] != first["Gate"]
    assert run.latest_repair_id is not None
    # the values passed downstream across the repair: Prepare's from the first run, Train's from the repair
    assert any("Train: SUCCESS; exit value: 5 21" in line for line in recording.lines)
    assert any("Gate: SUCCESS; exit value: 42" in line for line in recording.lines)
    manifest = read_build_manifest(backend, FOLDER)
    assert manifest["result"] == "SUCCESS" and manifest["repair_ids"] == [run.latest_repair_id]
    summary = json.loads((dag_project.results_dir / "summary.json").read_text())
    assert summary["succeeded"] is True

    with pytest.raises(UserInputError, match="succeeded: nothing to repair"):
        pipeline.repair_ci(dag_project, backend, plan, timeout_s=120, console=recording.console, secrets=[])
