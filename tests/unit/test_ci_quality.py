"""A build's metrics and its earlier builds, on the local backend and over the emulator (databricks-sdk):
master's newest successful build, the branch's last N, in a bounded number of requests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.manifest import write_build_manifest
from bricktasks.ci.quality import MASTER_CANDIDATES, build_metrics, quality_comparison
from bricktasks.layout import ProjectLayout
from bricktasks.report.model import NotebookRunReport
from bricktasks.report.quality import Directions
from bricktasks.report.quality_metrics import Metrics
from bricktasks.testing.emulator import EmulatorProcess, databricks_backend

LAYOUT = ProjectLayout("/Projects/forecasting", "/Projects/forecasting/libraries")
TOKEN = "dapi-quality-test-token-0123456789"


class CountingBackend(LocalBackend):
    """A real local backend that counts the workspace reads the history makes."""

    reads = 0

    def list(self, path):
        type(self).reads += 1
        return super().list(path)

    def export(self, path, *, format="SOURCE"):
        type(self).reads += 1
        return super().export(path, format=format)


def manifest(build_id: str, branch: str, day: int, result: str | None, metrics: object = None) -> dict:
    data = {"build_id": build_id, "branch": branch, "created": f"2026-11-{day:02d}T10:00:00+00:00", "run_id": None,
            "result": result, "libraries": []}
    if metrics is not None:
        data["metrics"] = metrics
    return data


def write(backend, build_id: str, branch: str, day: int, result: str | None, metrics: object = None) -> None:
    folder = LAYOUT.ci_build(build_id, branch)
    backend.mkdirs(folder)
    write_build_manifest(backend, folder, manifest(build_id, branch, day, result, metrics))


def fill_ci(backend) -> None:
    """master: an old success, a newer success, a newest failure; the branch: seven builds, one hostile;
    a branch whose name ends in -master; forty builds of other branches."""
    write(backend, "1", "master", 1, "SUCCESS", {"ModelTraining.mae_ratio": 0.7})
    write(backend, "2", "master", 3, "SUCCESS", {"ModelTraining.mae_ratio": 0.5, "ModelTraining.series_in": 200})
    write(backend, "3", "master", 5, "FAILED", {"ModelTraining.mae_ratio": 0.9})
    write(backend, "9", "x-master", 6, "SUCCESS", {"ModelTraining.mae_ratio": 0.01})  # not master: its manifest says so
    for number in range(10, 17):
        write(backend, str(number), "BI-1", number, "SUCCESS", {"ModelTraining.mae_ratio": round(0.6 - number / 100, 2)})
    write(backend, "17", "BI-1", 17, "FAILED", {"ModelTraining.mae_ratio": float("nan"), "text": "x", "k": [1]})
    for number in range(40):
        write(backend, str(100 + number), f"other-{number}", 2, "SUCCESS", {"ModelTraining.mae_ratio": 0.0})


THIS = BuildInfo(build_id="18", branch="BI-1", commit="abc", ci_system="test")
CURRENT = Metrics({"ModelTraining.mae_ratio": 0.4, "ModelTraining.series_in": 210.0})


def check_comparison(comparison) -> None:
    assert comparison.master is not None and comparison.master.name == "2-master"  # newest successful, not the failed 3
    assert [found.name for found in comparison.branch_builds] == ["13-BI-1", "14-BI-1", "15-BI-1", "16-BI-1", "17-BI-1"]
    rows = {row.key: row for row in comparison.rows}
    mae = rows["ModelTraining.mae_ratio"]
    assert mae.master == 0.5 and mae.arrow == "▼" and mae.verdict == "better"
    assert mae.trend == (0.47, 0.46, 0.45, 0.44, None, 0.4)  # 17's NaN was not trusted
    assert rows["ModelTraining.series_in"].arrow == "▲" and rows["ModelTraining.series_in"].verdict == ""
    assert any("build 17-BI-1's metrics: 3 values ignored (not finite numbers)" in note for note in comparison.notes)
    assert comparison.requests <= 1 + 5 + MASTER_CANDIDATES


def test_the_history_on_the_local_backend_in_a_bounded_number_of_requests(tmp_path):
    backend = CountingBackend(tmp_path / "local")
    fill_ci(backend)
    CountingBackend.reads = 0
    comparison = quality_comparison(backend, LAYOUT, THIS, CURRENT, created="2026-11-20T10:00:00+00:00", result="SUCCESS")
    check_comparison(comparison)
    assert CountingBackend.reads == comparison.requests  # counted honestly: 47 builds in CI/, 1 + 5 + 4 read
    assert comparison.requests == 1 + 5 + 4


def test_the_history_over_the_emulator_through_the_sdk(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN) as emulator:
        backend = databricks_backend(emulator.url, TOKEN)
        fill_ci(backend)
        before = len(emulator.requests())
        comparison = quality_comparison(backend, LAYOUT, THIS, CURRENT, created="2026-11-20T10:00:00+00:00", result="SUCCESS")
        made = emulator.requests()[before:]
    check_comparison(comparison)
    assert len(made) == comparison.requests, [entry.get("path") for entry in made]


def test_a_hostile_or_broken_manifest_is_reported_and_the_report_still_compares(tmp_path):
    backend = LocalBackend(tmp_path / "local")
    write(backend, "2", "master", 3, "SUCCESS", {"T.mae": 0.5})
    write(backend, "3", "master", 4, "SUCCESS", "not an object")
    backend.mkdirs(LAYOUT.ci_build("4", "BI-1"))
    backend.import_object(LAYOUT.ci_build("4", "BI-1") + "/.bricktasks-build.json", b"{" * 10_000, format="AUTO")
    backend.mkdirs(LAYOUT.ci_build("5", "BI-1"))
    huge = {"created": "2026-11-05T10:00:00+00:00", "branch": "BI-1", "metrics": {f"k{i}": i for i in range(200_000)}}
    backend.import_object(LAYOUT.ci_build("5", "BI-1") + "/.bricktasks-build.json", json.dumps(huge).encode(), format="AUTO")
    write(backend, "6", "BI-1", 6, "SUCCESS", {f"k{i:06d}": i for i in range(100_000)})
    comparison = quality_comparison(backend, LAYOUT, THIS, Metrics({"T.mae": 0.4}), created="2026-11-20T10:00:00+00:00",
                                    result="SUCCESS")
    # master's newest success has a malformed metrics field: not trusted, said so, nothing compared
    assert comparison.master is None and comparison.master_found == "3-master"
    assert "master's newest successful build 3-master recorded no metrics" in comparison.nothing_to_compare
    notes = "\n".join(comparison.notes)
    assert "build 3-master's metrics is not a JSON object: ignored" in notes
    assert "build 4-BI-1: its manifest is not trusted (.bricktasks-build.json is not JSON)" in notes
    assert "build 5-BI-1: its manifest is not trusted (.bricktasks-build.json is larger than 2 MB)" in notes
    assert "build 6-BI-1's metrics: 100000 metrics, only the first 200 by name kept" in notes
    assert [found.name for found in comparison.branch_builds] == ["6-BI-1"]


def test_a_first_build_has_nothing_to_compare(tmp_path):
    comparison = quality_comparison(LocalBackend(tmp_path / "local"), LAYOUT, THIS, CURRENT,
                                    created="2026-11-20T10:00:00+00:00", result="SUCCESS")
    assert comparison.requests == 1 and comparison.rows
    assert comparison.nothing_to_compare == "nothing to compare yet: this is the branch's first build and master has no successful build"


def test_a_master_build_compares_with_the_master_build_before_it(tmp_path):
    backend = LocalBackend(tmp_path / "local")
    fill_ci(backend)
    master_build = BuildInfo(build_id="4", branch="master", commit="abc", ci_system="test")
    comparison = quality_comparison(backend, LAYOUT, master_build, CURRENT, created="2026-11-20T10:00:00+00:00",
                                    result="SUCCESS", directions=Directions.parse(None, "*.mae_ratio"))
    assert comparison.master.name == "2-master"
    (mae,) = [row for row in comparison.rows if row.key == "ModelTraining.mae_ratio"]
    assert mae.verdict == "worse" and mae.declared == "declared"  # declared higher-is-better


def report(key: str, exit_value: str | None) -> NotebookRunReport:
    return NotebookRunReport(name=key, notebook_path=f"/x/{key}", run_id=1, task_run_id=2, result_state="SUCCESS",
                             state_message="", duration_s=1.0, exit_value=exit_value, error=None, error_trace=None,
                             run_page_url=None, task_key=key)


def log_mlflow_run(local_root: Path) -> str:
    """A real MLflow run logged to the local root's file store, as a local notebook run does."""
    script = ("import mlflow\nmlflow.set_experiment('/Projects/forecasting/experiments/ci')\n"
              "with mlflow.start_run() as run:\n"
              "    mlflow.log_metric('mae_ratio', 0.5, step=0)\n    mlflow.log_metric('mae_ratio', 0.42, step=1)\n"
              "    mlflow.log_metrics({'mean_mae': 3.5, 'val/loss': 0.25})\nprint(run.info.run_id)\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": (local_root / "mlflow").resolve().as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_build_metrics_reads_exit_values_and_the_mlflow_run_they_name(tmp_path):
    backend = LocalBackend(tmp_path / "local")
    run_id = log_mlflow_run(backend.root)
    assert backend.tracked_metrics(run_id) == {"mae_ratio": 0.42, "mean_mae": 3.5, "val/loss": 0.25}
    assert backend.tracked_metrics("0" * 32) is None and backend.tracked_metrics("../..") is None
    reports = [
        report("PrepareData", json.dumps({"series": 200, "path": "/Volumes/x"})),
        report("ModelTraining", json.dumps({"mae_ratio": 0.42, "mlflow_run_id": run_id})),
        report("Evaluate", json.dumps({"mae_ratio": 0.42, "mlflow_run_id": run_id, "quality_gate": "passed"})),
        report("Smoke", "ci 0.4.0"),
    ]
    metrics = build_metrics(backend, reports)
    assert metrics.values == {
        "PrepareData.series": 200.0, "ModelTraining.mae_ratio": 0.42, "Evaluate.mae_ratio": 0.42,
        "ModelTraining.mlflow.mae_ratio": 0.42, "ModelTraining.mlflow.mean_mae": 3.5, "ModelTraining.mlflow.val/loss": 0.25,
    }  # the MLflow run once, under the first task naming it


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(tmp_path_factory.mktemp("emulated") / "root", token=TOKEN) as running:
        yield running


def test_over_the_emulator_mlflow_is_not_served_and_is_skipped_silently(emulator):
    backend = databricks_backend(emulator.url, TOKEN)
    assert backend.tracked_metrics("717d0a95b0df404f98a7d1e5d24d066f") is None
    exit_value = json.dumps({"mae_ratio": 0.4, "mlflow_run_id": "717d0a95b0df404f98a7d1e5d24d066f"})
    metrics = build_metrics(backend, [report("ModelTraining", exit_value)])
    assert metrics.values == {"ModelTraining.mae_ratio": 0.4} and metrics.notes == ()
