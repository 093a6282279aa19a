"""The CI pipeline's pieces on a real local backend: plan_ci, run_ci (dry run and real runs of
notebooks that never touch Spark, so no JVM starts), the build manifest and the --json summary."""
from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bricktasks.backends.base import NewCluster, ObjectType
from bricktasks.backends.local import LocalBackend
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.manifest import BUILD_MANIFEST, list_ci_builds, read_build_manifest, survey_ci, write_build_manifest
from bricktasks.ci.pipeline import plan_ci, run_ci
from bricktasks.ci.summary import CiOutcome, CiProgress, NotebookOutcome, ReportPaths
from bricktasks.clusterspec import ClusterSpec
from bricktasks.errors import NotFound, UserInputError
from bricktasks.interrupts import Interrupted, handle_signals
from bricktasks.layout import ProjectLayout
from bricktasks.workspace.helpers import install_libraries_source, set_environment_source

HEADER = "# Databricks notebook source\n"
CI_ROOT = "/Projects/forecasting/CI"
BUILD = BuildInfo("17", "feature/x", "0123456789abcdef0123456789abcdef01234567", "github-actions")
LAYOUT = ProjectLayout("/Projects/forecasting", "/Projects/forecasting/libraries")
EXITS = HEADER + "dbutils.notebook.exit('forty-two')\n"
# a classic cluster: the build's wheel is attached to it (a serverless task gets no libraries; its
# notebook installs them with %run ./install_libraries)
CLASSIC = ClusterSpec(compute=NewCluster({"spark_version": "15.4.x-scala2.12", "num_workers": 0}))
FAILS = HEADER + "x = 1\n\n# COMMAND ----------\n\nraise ValueError('the model diverged')\n"


# ---- plan_ci ------------------------------------------------------------------------------


def test_plan_names_the_ci_folder_library_folder_and_run(project):
    plan = plan_ci(project, BUILD, ["ModelTraining.py", "reports/Weekly"])
    assert plan.ci_folder == "/Projects/forecasting/CI/17-feature__x"
    assert plan.library_folder == "/Projects/forecasting/libraries/CI/17-feature__x"
    assert plan.run_name == "CI-17-feature__x"
    assert plan.notebooks == ["ModelTraining", "reports/Weekly"]  # ".py" dropped
    assert plan.build is BUILD


def test_plan_puts_the_libraries_under_the_library_root(make_project):
    project = make_project(library_root="dbfs:/ml/libs")
    plan = plan_ci(project, BuildInfo("3", "BI-7", None, None), ["PrepareData"])
    assert plan.library_folder == "dbfs:/ml/libs/CI/3-BI-7"
    assert plan.ci_folder == "/Projects/forecasting/CI/3-BI-7"


@pytest.mark.parametrize(
    ("notebook", "message"),
    [
        ("Missing", "there is no notebook 'Missing' in forecasting"),
        ("set_environment", "there is no notebook 'set_environment' in forecasting"),  # a helper, never run alone
        ("conf/ci_config", "there is no notebook 'conf/ci_config' in forecasting"),
        ("helper.py", "there is no notebook 'helper.py' in forecasting"),  # a file without the header
    ],
)
def test_plan_refuses_what_is_not_a_runnable_notebook(project, notebook, message):
    with pytest.raises(UserInputError) as refused:
        plan_ci(project, BUILD, ["ModelTraining", notebook])
    assert str(refused.value) == message
    assert refused.value.hint == "use one of: ModelTraining, PrepareData, reports/Weekly"


def test_plan_refuses_a_project_without_a_ci_config(project):
    (project.source_dir / "conf" / "ci_config.py").unlink()
    with pytest.raises(UserInputError) as refused:
        plan_ci(project, BUILD, ["ModelTraining"])
    assert str(refused.value) == "there is no conf/ci_config.py in forecasting"
    assert refused.value.hint == "use one of: dev"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (BuildInfo("../x", "BI-7", None, None), "the build id '../x' is not a safe name"),
        (BuildInfo("17", "has__double", None, None), "contains '__', which is reserved for '/'"),
        (BuildInfo("17", "ci", None, None), "is reserved for the project's ci folder"),
    ],
)
def test_plan_refuses_unsafe_build_ids_and_branches(project, build, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        plan_ci(project, build, ["ModelTraining"])


# ---- run_ci: dry run ----------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(project, backend, recording, tmp_path):
    artifact = tmp_path / "tinylib-0.3.1.dev17-py3-none-any.whl"
    artifact.write_bytes(b"not read in a dry run")
    plan = plan_ci(project, BUILD, ["ModelTraining", "PrepareData"])
    outcome = run_ci(
        project, backend, plan, artifacts=[artifact], cluster=ClusterSpec(), timeout_s=1500,
        console=recording.console, secrets=[], dry_run=True,
    )
    assert outcome == CiOutcome("17", "feature/x", BUILD.commit, "/Projects/forecasting/CI/17-feature__x", exit_code=0)
    assert recording.lines == [
        "build 17 of feature/x (0123456789abcdef0123456789abcdef01234567) on the local backend",
        "would upload forecasting/ to /Projects/forecasting/CI/17-feature__x with set_environment -> ci",
        "would upload tinylib-0.3.1.dev17-py3-none-any.whl to /Projects/forecasting/libraries/CI/17-feature__x",
        "would run ModelTraining, PrepareData as CI-17-feature__x and wait up to 25m00s",
    ]
    with pytest.raises(NotFound):
        backend.list("/Projects")
    assert backend.list_runs() == []
    assert not project.results_dir.exists()


# ---- run_ci: real runs on the local backend ----------------------------------------------


def _run(project, backend, recording, build, notebooks, artifacts=(), progress=None):
    plan = plan_ci(project, build, notebooks)
    outcome = run_ci(
        project, backend, plan, artifacts=list(artifacts), cluster=CLASSIC, timeout_s=120,
        console=recording.console, secrets=[], progress=progress,
    )
    return plan, outcome


def test_a_passing_build_uploads_runs_reports_and_records_its_result(project, backend, recording, add_files, make_wheel):
    """One build end to end: the wheel on the library folder and attached, the notebooks in the CI
    folder with set_environment -> ci, the run's exit value in the reports, the manifest and --json."""
    add_files(project.source_dir, {
        "Exits.py": HEADER + "import tinylib\n\n# COMMAND ----------\n\ndbutils.notebook.exit(f'value {tinylib.VALUE}')\n",
    })
    wheel = make_wheel("tinylib", "0.3.1.dev17", body="VALUE = 41 + 1\n")
    build = BuildInfo("17", "BI-7", "0123456789abcdef0123456789abcdef01234567", "github-actions")
    plan, outcome = _run(project, backend, recording, build, ["Exits"], [wheel])

    assert outcome.exit_code == 0
    remote_wheel = "/Projects/forecasting/libraries/CI/17-BI-7/tinylib-0.3.1.dev17-py3-none-any.whl"
    assert backend.read_file(remote_wheel) == wheel.read_bytes()
    folder = "/Projects/forecasting/CI/17-BI-7"
    assert backend.export(f"{folder}/set_environment") == set_environment_source("ci")
    assert backend.export(f"{folder}/install_libraries") == install_libraries_source([remote_wheel])
    assert backend.export(f"{folder}/conf/ci_config") == (HEADER + "ENV = 'ci'\n").encode()
    assert backend.get_status(f"{folder}/helper.py").object_type is ObjectType.FILE

    manifest = read_build_manifest(backend, folder)
    run_id = manifest.pop("run_id")
    created = manifest.pop("created")
    assert manifest == {
        "build_id": "17", "branch": "BI-7", "commit": "0123456789abcdef0123456789abcdef01234567",
        "ci_system": "github-actions", "libraries": [remote_wheel], "result": "SUCCESS",
        "metrics": {},  # its exit value is text: no metrics
    }
    assert abs((datetime.fromisoformat(created) - datetime.now(timezone.utc)).total_seconds()) < 120
    run = backend.get_run(run_id)
    assert run.result_state == "SUCCESS" and [task.task_key for task in run.tasks] == ["Exits"]

    assert "Exits: SUCCESS; exit value: value 42" in recording.lines
    assert f"submitted run {run_id} (CI-17-BI-7)" in recording.lines
    summary = json.loads((project.results_dir / "summary.json").read_text())
    assert (summary["build_id"], summary["ci_folder"], summary["succeeded"]) == ("17", folder, True)
    assert [(nb["name"], nb["result_state"], nb["exit_value"]) for nb in summary["notebooks"]] == [("Exits", "SUCCESS", "value 42")]
    junit = (project.results_dir / "test-results.xml").read_text()
    assert 'tests="1"' in junit and 'failures="0"' in junit

    assert (outcome.build_id, outcome.branch, outcome.commit, outcome.ci_folder) == ("17", "BI-7", build.commit, folder)
    assert (outcome.run_id, outcome.life_cycle_state, outcome.result) == (run_id, "TERMINATED", "SUCCESS")
    fields = outcome.json_fields()
    assert 0 < fields["notebooks"][0].pop("duration_s") < 120  # the task's own time, not the whole run's
    assert fields == {
        "run_id": run_id,
        "result": "SUCCESS",
        "run_page_url": None,
        "notebooks": [{
            "task_key": "Exits", "name": "Exits", "result_state": "SUCCESS", "attempts": 1, "depends_on": [],
            "exit_value": "value 42", "failed_cell": None, "error": None, "task_run_id": run.tasks[0].run_id,
        }],
        "reports": {
            "junit": str(project.results_dir / "test-results.xml"),
            "html": str(project.results_dir / "report.html"),
            "summary": str(project.results_dir / "summary.json"),
            "markdown": str(project.results_dir / "summary.md"),
        },
    }
    assert (project.results_dir / "summary.md").read_text().startswith("## ✅ bricktasks ci 17-BI-7: **SUCCESS**")


def test_a_failing_notebook_fails_the_build_and_a_rerun_replaces_the_previous_one(project, backend, recording, add_files):
    add_files(project.source_dir, {"Exits.py": EXITS, "Fails.py": FAILS})
    build = BuildInfo("9", "BI-7", None, None)
    folder, libraries = "/Projects/forecasting/CI/9-BI-7", "/Projects/forecasting/libraries/CI/9-BI-7"
    # what an earlier run of build 9 left: a notebook no longer in the working copy, an old library
    backend.mkdirs(folder)
    backend.import_object(f"{folder}/Stale.py", (HEADER + "1\n").encode())
    write_build_manifest(backend, folder, {"build_id": "9", "created": "2026-01-01T00:00:00+00:00", "run_id": None})
    stale_library = Path(project.root / "old.whl")
    stale_library.write_bytes(b"old")
    backend.upload_file(f"{libraries}/tinylib-0.1-py3-none-any.whl", stale_library)

    plan, outcome = _run(project, backend, recording, build, ["Exits", "Fails"])

    assert outcome.exit_code == 1 and outcome.result == "FAILED"
    assert [(nb.name, nb.result_state, nb.failed_cell) for nb in outcome.notebooks] == [("Exits", "SUCCESS", None), ("Fails", "FAILED", 2)]
    assert f"replaced the previous contents of {folder}" in recording.lines
    assert f"replaced the previous contents of {libraries}" in recording.lines
    with pytest.raises(NotFound):
        backend.get_status(f"{folder}/Stale")
    with pytest.raises(NotFound):
        backend.list_files(libraries)  # no library this time: the folder is gone, not emptied
    assert "Exits: SUCCESS; exit value: forty-two" in recording.lines
    failed = [line for line in recording.lines if line.startswith("Fails: ")]
    assert len(failed) == 1 and failed[0].startswith("Fails: FAILED; error in cell 2: ") and "the model diverged" in failed[0]
    manifest = read_build_manifest(backend, folder)
    assert manifest["result"] == "FAILED" and manifest["libraries"] == [] and manifest["created"] != "2026-01-01T00:00:00+00:00"
    assert backend.export(f"{folder}/install_libraries") == install_libraries_source([])
    summary = json.loads((project.results_dir / "summary.json").read_text())
    assert summary["succeeded"] is False
    outcomes = [(nb["name"], nb["outcome"], nb["failed_cell"]) for nb in summary["notebooks"]]
    assert outcomes == [("Exits", "passed", None), ("Fails", "failure", 2)]


# ---- the build manifest ---------------------------------------------------------------------


def _manifest_body(**fields) -> bytes:
    return json.dumps({"created": "2026-05-01T12:00:00+00:00", "run_id": 5, "branch": "BI-1", **fields}).encode()


def test_a_manifest_is_written_as_sorted_json_and_read_back(backend):
    folder = f"{CI_ROOT}/1-BI-1"
    backend.mkdirs(folder)
    data = {"run_id": 12, "build_id": "1", "branch": "BI-1", "created": "2026-05-01T12:00:00+00:00", "result": None}
    write_build_manifest(backend, folder, data)
    assert backend.get_status(f"{folder}/{BUILD_MANIFEST}").object_type is ObjectType.FILE
    body = backend.export(f"{folder}/{BUILD_MANIFEST}")
    assert list(json.loads(body)) == ["branch", "build_id", "created", "result", "run_id"]
    assert read_build_manifest(backend, folder) == data
    write_build_manifest(backend, folder, {**data, "run_id": 13})  # overwritten in place
    assert read_build_manifest(backend, folder)["run_id"] == 13


def test_a_missing_manifest_reads_as_none(backend):
    backend.mkdirs(f"{CI_ROOT}/1-BI-1")
    assert read_build_manifest(backend, f"{CI_ROOT}/1-BI-1") is None
    assert read_build_manifest(backend, f"{CI_ROOT}/2-BI-1") is None  # no folder either


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", f"{BUILD_MANIFEST} is not JSON"),
        (b"\xff\xfe\x00", f"{BUILD_MANIFEST} is not JSON"),
        (b"[1, 2]", f"{BUILD_MANIFEST} is not a JSON object"),
        (_manifest_body(run_id=True), "its run_id true is not a run id"),
        (_manifest_body(run_id=0), "its run_id 0 is not a run id"),
        (_manifest_body(run_id="12"), 'its run_id "12" is not a run id'),
        (_manifest_body(run_id=2**63), f"its run_id {2**63} is not a run id"),
        (_manifest_body(created="yesterday"), 'its created "yesterday" is not a time'),
        (_manifest_body(created=None), "its created null is not a time"),
        (_manifest_body(branch=["BI-1"]), 'its branch ["BI-1"] is not text'),
        (_manifest_body(result=1), "its result 1 is not text"),
        (_manifest_body(result="x" * 60), None),  # long text is text
    ],
)
def test_a_malformed_manifest_is_reported_and_never_trusted(backend, body, problem):
    folder = f"{CI_ROOT}/3-BI-1"
    backend.mkdirs(folder)
    backend.import_object(f"{folder}/{BUILD_MANIFEST}", body, format="AUTO", overwrite=True)
    [build] = survey_ci(backend, LAYOUT).builds
    if problem is None:
        assert build.manifest == "ok" and build.run_id == 5 and read_build_manifest(backend, folder) is not None
        return
    assert build.manifest == problem
    assert read_build_manifest(backend, folder) is None
    assert (build.run_id, build.branch, build.result) == (None, None, None)  # nothing of it is used


def test_a_long_bad_value_is_cut_short_in_the_problem(backend):
    folder = f"{CI_ROOT}/3-BI-1"
    backend.mkdirs(folder)
    backend.import_object(f"{folder}/{BUILD_MANIFEST}", _manifest_body(branch={"k": "v" * 100}), format="AUTO", overwrite=True)
    [build] = survey_ci(backend, LAYOUT).builds
    assert build.manifest == 'its branch {"k": "' + "v" * 32 + "… is not text"


def test_a_folder_in_the_manifests_place_is_not_a_file(backend):
    folder = f"{CI_ROOT}/4-BI-1"
    backend.mkdirs(f"{folder}/{BUILD_MANIFEST}")
    [build] = survey_ci(backend, LAYOUT).builds
    assert build.manifest == f"{BUILD_MANIFEST} is not a file"
    assert read_build_manifest(backend, folder) is None


def test_the_survey_sorts_builds_by_creation_and_names_what_is_not_a_build(backend):
    for name, created in (("1-BI-1", "2026-05-03T00:00:00+00:00"), ("2-feature__x", "2026-05-01T00:00:00"), ("3-BI-2", None)):
        backend.mkdirs(f"{CI_ROOT}/{name}")
        if created:
            write_build_manifest(backend, f"{CI_ROOT}/{name}", {"created": created, "run_id": None, "branch": name[2:]})
    os.utime(backend.paths.workspace_path(f"{CI_ROOT}/3-BI-2"), (1_700_000_000, 1_700_000_000))  # 2023-11-14
    backend.mkdirs(f"{CI_ROOT}/scratch")  # a folder no build id names
    backend.import_object(f"{CI_ROOT}/notes.txt", b"hello")
    backend.mkdirs(f"{CI_ROOT}/7-libraries")  # a reserved name is no branch's folder

    surveyed = survey_ci(backend, LAYOUT, workers=2)

    assert [(b.name, b.manifest) for b in surveyed.builds] == [("3-BI-2", "missing"), ("2-feature__x", "ok"), ("1-BI-1", "ok")]
    assert surveyed.builds[0].created == datetime.fromtimestamp(1_700_000_000, timezone.utc)  # the folder's time
    assert surveyed.builds[1].created == datetime(2026, 5, 1, tzinfo=timezone.utc)  # a naive time is UTC
    assert surveyed.builds[1].branch == "2-feature__x"[2:] and surveyed.builds[1].path == f"{CI_ROOT}/2-feature__x"
    assert surveyed.not_builds == ["7-libraries", "notes.txt", "scratch"]
    assert [b.name for b in list_ci_builds(backend, LAYOUT)] == ["3-BI-2", "2-feature__x", "1-BI-1"]


def test_the_survey_of_a_project_without_ci_is_empty(backend):
    surveyed = survey_ci(backend, LAYOUT)
    assert (surveyed.builds, surveyed.not_builds) == ([], [])


# ---- the outcome and its --json fields -------------------------------------------------------

FOLDER = f"{CI_ROOT}/7-BI-1"
STARTED = CiOutcome("7", "BI-1", "abc123", FOLDER)


def test_the_json_of_a_build_before_its_run_was_submitted_names_no_run():
    assert STARTED.json_fields() == {"run_id": None, "result": None}


def test_the_json_of_a_submitted_run_without_reports_names_the_run_only():
    assert replace(STARTED, run_id=7, exit_code=143).json_fields() == {"run_id": 7, "result": None}


def test_the_json_of_a_finished_build_has_each_notebook_and_the_report_paths(tmp_path):
    notebooks = (
        NotebookOutcome("A", "SUCCESS", "1", None, None, 8, task_key="A", duration_s=2.5),
        NotebookOutcome("B", "FAILED", None, 4, "boom", 9, task_key="B", depends_on=("A",), attempts=2, duration_s=1.0),
    )
    reports = ReportPaths(tmp_path / "test-results.xml", tmp_path / "report.html", tmp_path / "summary.json")
    finished = replace(STARTED, run_id=7, run_page_url="https://example/run/7", life_cycle_state="TERMINATED", result="FAILED",
                       notebooks=notebooks, reports=reports, exit_code=1)
    fields = finished.json_fields()
    assert fields == {
        "run_id": 7,
        "result": "FAILED",
        "run_page_url": "https://example/run/7",
        "notebooks": [
            {"task_key": "A", "name": "A", "result_state": "SUCCESS", "attempts": 1, "depends_on": [], "duration_s": 2.5,
             "exit_value": "1", "failed_cell": None, "error": None, "task_run_id": 8},
            {"task_key": "B", "name": "B", "result_state": "FAILED", "attempts": 2, "depends_on": ["A"], "duration_s": 1.0,
             "exit_value": None, "failed_cell": 4, "error": "boom", "task_run_id": 9},
        ],
        "reports": {
            "junit": str(tmp_path / "test-results.xml"), "html": str(tmp_path / "report.html"), "summary": str(tmp_path / "summary.json"),
        },
    }
    assert list(fields) == ["run_id", "result", "run_page_url", "notebooks", "reports"]  # the order --json prints
    assert json.loads(json.dumps(fields)) == fields


def test_progress_replaces_the_outcome_field_by_field():
    progress = CiProgress(BuildInfo("7", "BI-1", "abc123", None), FOLDER)
    assert progress.outcome == STARTED
    assert progress.record(run_id=7) == replace(STARTED, run_id=7) == progress.outcome
    assert STARTED.run_id is None  # each outcome stays as it was made


# ---- the outcome after a signal -------------------------------------------------------------

SLEEPS = HEADER + "import time\ntime.sleep(60)\n"


class SignalledOnFirstPoll(LocalBackend):
    """The local backend, sent SIGTERM as the wait asks for the run the first time."""

    polled = False

    def get_run(self, run_id):
        if not self.polled:
            self.polled = True
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)  # the handler raises Interrupted here, in the middle of the poll
        return super().get_run(run_id)


class SignalledOnUpload(LocalBackend):
    """The local backend, sent SIGTERM as the first notebook is uploaded."""

    def import_object(self, path, content, **options):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
        return super().import_object(path, content, **options)


def test_a_signal_during_the_wait_leaves_the_outcome_of_the_cancelled_run(project, recording, add_files, tmp_path):
    add_files(project.source_dir, {"Sleeps.py": SLEEPS})
    backend = SignalledOnFirstPoll(tmp_path / "signalled")
    progress = CiProgress(BuildInfo("7", "BI-1", None, None), f"{CI_ROOT}/7-BI-1")
    with handle_signals(), pytest.raises(Interrupted) as caught:
        _run(project, backend, recording, BuildInfo("7", "BI-1", None, None), ["Sleeps"], progress=progress)
    (run,) = backend.list_runs()
    outcome = progress.outcome
    assert caught.value.exit_code == 143 and f"run {run.run_id} was cancelled" in caught.value.detail
    assert (outcome.run_id, outcome.result, outcome.exit_code) == (run.run_id, "CANCELED", 143)
    fields = outcome.json_fields()
    assert (fields["run_id"], fields["result"]) == (run.run_id, "CANCELED")
    assert [(nb["name"], nb["result_state"]) for nb in fields["notebooks"]] == [("Sleeps", "CANCELED")]
    assert fields["reports"]["junit"] == str(project.results_dir / "test-results.xml")


def test_a_signal_during_the_upload_leaves_an_outcome_without_a_run(project, recording, tmp_path):
    backend = SignalledOnUpload(tmp_path / "signalled")
    progress = CiProgress(BuildInfo("7", "BI-1", None, None), f"{CI_ROOT}/7-BI-1")
    with handle_signals(), pytest.raises(Interrupted) as caught:
        _run(project, backend, recording, BuildInfo("7", "BI-1", None, None), ["ModelTraining"], progress=progress)
    assert caught.value.detail == "no run was submitted" and backend.list_runs() == []
    assert progress.outcome == replace(CiOutcome("7", "BI-1", None, f"{CI_ROOT}/7-BI-1"), exit_code=143)
    assert progress.outcome.json_fields() == {"run_id": None, "result": None}
