"""Which definition ci runs (jobs/ci.json, or the shorthand cluster.json + notebooks), its plan, and
`ci --repair`'s refusals: each one line, exit 2, before anything is built, uploaded or repaired."""
from __future__ import annotations

import json
import time

import pytest

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci import pipeline
from bricktasks.ci.manifest import write_build_manifest
from bricktasks.ci.results import PlannedTask
from bricktasks.errors import ConfigError, UserInputError
from bricktasks.tasks import _ci_plan

HEADER = "# Databricks notebook source\n"
BUILD = BuildInfo("9", "BI-9", None, None)
FOLDER = "/Projects/forecasting/CI/9-BI-9"
DAG = {
    "tasks": [
        {"task_key": "Prepare", "notebook_task": {"notebook_path": "PrepareData"}},
        {"task_key": "Train", "notebook_task": {"notebook_path": "ModelTraining"}, "depends_on": [{"task_key": "Prepare"}]},
    ]
}


def write_job(project_dir, data, name="jobs/ci.json"):
    path = project_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# ---- which definition ------------------------------------------------------------------------


def test_without_a_definition_the_shorthand_runs_the_ci_notebooks(make_project):
    plan = _ci_plan(make_project(environ={"BRICKTASKS_CI_NOTEBOOKS": "ModelTraining,reports/Weekly"}), BUILD, None)
    assert plan.job is None
    assert plan.tasks == (
        PlannedTask("ModelTraining", "ModelTraining", f"{FOLDER}/ModelTraining"),
        PlannedTask("reports_Weekly", "reports/Weekly", f"{FOLDER}/reports/Weekly"),
    )
    assert _ci_plan(make_project(), BUILD, None).notebooks == ["ModelTraining"]  # the default


def test_jobs_ci_json_defines_the_run_when_it_exists(make_project, project_dir):
    write_job(project_dir, DAG)
    plan = _ci_plan(make_project(), BUILD, None)
    assert plan.job is not None and plan.job.source == "jobs/ci.json"
    assert plan.tasks == (
        PlannedTask("Prepare", "PrepareData", f"{FOLDER}/PrepareData"),
        PlannedTask("Train", "ModelTraining", f"{FOLDER}/ModelTraining", ("Prepare",)),
    )
    assert plan.run_name == "CI-9-BI-9"


def test_bricktasks_ci_job_names_another_definition(make_project, project_dir):
    write_job(project_dir, {**DAG, "run_name": "Classic"}, "jobs/other.json")
    plan = _ci_plan(make_project(environ={"BRICKTASKS_CI_JOB": "jobs/other.json"}), BUILD, None)
    assert [task.task_key for task in plan.tasks] == ["Prepare", "Train"] and plan.run_name == "Classic-9-BI-9"


def test_a_named_definition_that_does_not_exist_is_refused_not_replaced_by_the_shorthand(make_project):
    with pytest.raises(ConfigError) as caught:
        _ci_plan(make_project(environ={"BRICKTASKS_CI_JOB": "jobs/typo.json"}), BUILD, None)
    assert caught.value.one_line() == "BRICKTASKS_CI_JOB jobs/typo.json does not exist; point it at a job definition, or unset it"


@pytest.mark.parametrize(
    ("environ", "flag", "given"),
    [({}, "ModelTraining", "--notebooks"), ({"BRICKTASKS_CI_NOTEBOOKS": "ModelTraining"}, None, "BRICKTASKS_CI_NOTEBOOKS")],
)
def test_naming_notebooks_beside_a_definition_is_refused(make_project, project_dir, environ, flag, given):
    write_job(project_dir, DAG)
    with pytest.raises(UserInputError) as caught:
        _ci_plan(make_project(environ=environ), BUILD, flag)
    assert caught.value.exit_code == 2
    assert caught.value.one_line() == (
        f"{given} applies only without a job definition, and jobs/ci.json defines the CI run's tasks; "
        f"edit the tasks in jobs/ci.json, or drop {given}"
    )


def test_a_bad_definition_is_refused_before_the_plan(make_project, project_dir):
    write_job(project_dir, {"tasks": [{**DAG["tasks"][1], "depends_on": [{"task_key": "Prep"}]}]})
    with pytest.raises(ConfigError, match=r"^jobs/ci.json: tasks\[0\] \(Train\).depends_on\[0\]: 'Prep' is not a task"):
        _ci_plan(make_project(), BUILD, None)


def test_the_dry_run_shows_the_order(make_project, project_dir, backend, recording):
    write_job(project_dir, DAG)
    project = make_project()
    plan = _ci_plan(project, BUILD, None)
    pipeline.run_ci(project, backend, plan, artifacts=[], timeout_s=60, console=recording.console, secrets=[], dry_run=True)
    assert "would run Prepare, Train (after Prepare) as CI-9-BI-9 and wait up to 1m00s" in recording.lines
    assert backend.list_runs() == []


# ---- repair's refusals -----------------------------------------------------------------------


def _repair(project, backend, recording):
    plan = pipeline.plan_ci(project, BUILD, ["PrepareData"])
    return pipeline.repair_ci(project, backend, plan, timeout_s=60, console=recording.console, secrets=[])


def test_repair_without_a_run_of_this_build_is_refused(project, backend, recording):
    with pytest.raises(UserInputError) as caught:
        _repair(project, backend, recording)
    assert caught.value.one_line() == (
        f"build 9 of BI-9 has no run to repair (no run recorded in {FOLDER}); "
        "run invoke ci first, or set BRICKTASKS_BUILD_ID to the build to repair"
    )


def _recorded_run(backend, source: str) -> int:
    backend.mkdirs(FOLDER)
    backend.import_object(f"{FOLDER}/Nb.py", (HEADER + source).encode(), overwrite=True)
    run_id = backend.submit_run(RunSpec("CI-9-BI-9", (NotebookTask("Nb", f"{FOLDER}/Nb"),)))
    write_build_manifest(backend, FOLDER, {"build_id": "9", "branch": "BI-9", "created": "2026-01-01T00:00:00+00:00", "run_id": run_id})
    return run_id


def test_repair_of_a_run_still_running_is_refused(project, backend, recording):
    run_id = _recorded_run(backend, "import time\ntime.sleep(60)\n")
    try:
        with pytest.raises(UserInputError, match=rf"^run {run_id} of build 9 of BI-9 is still (PENDING|RUNNING|QUEUED)"):
            _repair(project, backend, recording)
    finally:
        backend.cancel_run(run_id)


def test_repair_of_a_run_that_succeeded_is_refused(project, backend, recording):
    run_id = _recorded_run(backend, "x = 1\n")
    deadline = time.monotonic() + 60
    while not backend.get_run(run_id).is_terminal and time.monotonic() < deadline:
        time.sleep(0.2)
    with pytest.raises(UserInputError) as caught:
        _repair(project, backend, recording)
    assert caught.value.one_line() == f"run {run_id} of build 9 of BI-9 succeeded: nothing to repair; run invoke ci to test new changes"


def test_a_developers_repair_finds_the_branchs_newest_build(project, backend):
    for build_id, branch, created, run_id in [("1", "BI-9", "2026-01-01", 5), ("2", "BI-9", "2026-01-03", 6),
                                              ("3", "other", "2026-01-05", 7), ("4", "BI-9", "2026-01-04", None)]:
        folder = f"/Projects/forecasting/CI/{build_id}-{branch}"
        backend.mkdirs(folder)
        write_build_manifest(backend, folder, {"build_id": build_id, "branch": branch, "created": f"{created}T00:00:00+00:00",
                                               "run_id": run_id})
    local = BuildInfo("local-20260110t120000", "BI-9", None, None)
    assert pipeline.build_to_repair(backend, project, local).build_id == "2"
    explicit = BuildInfo("9", "BI-9", None, "bricktasks")  # BRICKTASKS_BUILD_ID
    assert pipeline.build_to_repair(backend, project, explicit) == explicit
    with pytest.raises(UserInputError, match="^branch nope has no CI build with a run to repair"):
        pipeline.build_to_repair(backend, project, BuildInfo("x", "nope", None, None))
