"""`invoke ci` records its metrics in the build manifest and report.html compares them with master's newest
successful build and the branch's earlier builds: on the local backend and over the emulator (databricks-sdk).

A small notebook that exits with JSON numbers stands in for the example's training (no Spark): the
example's own DAG is run by test_e2e_ci and test_e2e_report_browser, whose exit values are the same shape."""
from __future__ import annotations

import base64
import json
import re

from e2e_helpers import HEADER, SENTINEL_TOKEN

from bricktasks.ci.manifest import write_build_manifest
from bricktasks.testing.emulator import EmulatorProcess, databricks_backend

SCORED = HEADER + """# MAGIC %run ./set_environment

# COMMAND ----------

import json

mae = float(dbutils.widgets.get("build")) / 20  # build 8 scores 0.4, build 9 scores 0.45
dbutils.notebook.exit(json.dumps({"mae": mae, "rows": 10, "environment": ENVIRONMENT, "detail": {"rmse": 2 * mae}}))
"""
CI_FOLDERS = "/Projects/forecasting/CI"


def ci_env(build: str) -> dict[str, str]:
    return {"BRICKTASKS_BUILD_ID": build, "BRICKTASKS_BRANCH": "BI-5613", "BRICKTASKS_CI_NOTEBOOKS": "Scored"}


def fake_build(backend, name: str, branch: str, created: str, result: str, metrics: dict) -> None:
    """An earlier build's folder and manifest, as `invoke ci` leaves them."""
    folder = f"{CI_FOLDERS}/{name}"
    backend.mkdirs(folder)
    write_build_manifest(backend, folder, {"build_id": name.split("-", 1)[0], "branch": branch, "created": created,
                                           "run_id": None, "result": result, "libraries": [], "metrics": metrics})


def quality_section(project) -> str:
    report = (project.root / "ci-results" / "report.html").read_text()
    found = re.search(r'<section class="quality" id="quality">.*?</section>', report, re.S)
    assert found, "report.html has no quality section"
    return found.group(0)


def plots(section: str) -> list[bytes]:
    return [base64.b64decode(src) for src in re.findall(r'class="quality-trend" alt="[^"]*" src="data:image/png;base64,([^"]+)"', section)]


def test_the_report_compares_with_master_on_the_local_backend(project):
    project.write_notebook("Scored", SCORED)
    project.commit_all()
    first = project.invoke("ci", env=ci_env("8"))
    assert first.returncode == 0, first.stdout + first.stderr
    section = quality_section(project)
    assert "nothing to compare yet: this is the branch&#x27;s first build and master has no successful build" in section
    backend = project.backend()
    recorded = json.loads(backend.export(f"{CI_FOLDERS}/8-BI-5613/.bricktasks-build.json"))
    assert recorded["metrics"] == {"Scored.mae": 0.4, "Scored.rows": 10.0, "Scored.detail.rmse": 0.8}
    assert recorded["result"] == "SUCCESS"

    # master was deployed meanwhile: an older success and a newer failure (the failure is not the deployed line)
    fake_build(backend, "3-master", "master", "2026-11-01T09:00:00+00:00", "SUCCESS", {"Scored.mae": 0.5, "Scored.rows": 10})
    fake_build(backend, "4-master", "master", "2026-11-02T09:00:00+00:00", "FAILED", {"Scored.mae": 0.1})
    second = project.invoke("ci", env=ci_env("9"))
    assert second.returncode == 0, second.stdout + second.stderr
    section = quality_section(project)
    assert "nothing to compare yet" not in section
    assert "compared with master build <code>3-master</code>" in section and "the last build of this branch" in section
    row = re.search(r"<tr><td><code>Scored.mae</code>.*?</tr>", section).group(0)
    assert "<td>0.45</td><td>0.5</td>" in row and "▼ -10.0% (better)" in row and "0.4 → 0.45" in row
    assert re.search(r"<tr><td><code>Scored.rows</code></td><td>10</td><td>10</td><td[^>]*>=</td>", section)
    assert "<code>Scored.detail.rmse</code>" in section
    images = plots(section)
    assert len(images) == 2 and all(image.startswith(b"\x89PNG") for image in images)  # mae and rmse: the key metrics


def test_the_report_compares_with_master_over_the_emulator(project, tmp_path):
    project.write_notebook("Scored", SCORED)
    project.commit_all()
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN) as emulator:
        backend = databricks_backend(emulator.url, SENTINEL_TOKEN)
        fake_build(backend, "3-master", "master", "2026-11-01T09:00:00+00:00", "SUCCESS", {"Scored.mae": 0.5})
        fake_build(backend, "7-BI-5613", "BI-5613", "2026-11-02T09:00:00+00:00", "FAILED", {"Scored.mae": 0.6})
        env = {**ci_env("8"), "DATABRICKS_HOST": emulator.url, "BRICKTASKS_BACKEND": "databricks"}
        result = project.invoke("ci", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        recorded = json.loads(backend.export(f"{CI_FOLDERS}/8-BI-5613/.bricktasks-build.json"))
        manifest_reads = [entry for entry in emulator.requests()
                          if entry.get("path", "").startswith("/api/2.0/workspace/export")]
    assert recorded["metrics"] == {"Scored.mae": 0.4, "Scored.rows": 10.0, "Scored.detail.rmse": 0.8}
    section = quality_section(project)
    row = re.search(r"<tr><td><code>Scored.mae</code>.*?</tr>", section).group(0)
    assert "<td>0.4</td><td>0.5</td>" in row and "▼ -20.0% (better)" in row and "0.6 → 0.4" in row
    assert len(plots(section)) == 1  # mae (master's line and two points); rmse has one point and no master yet
    assert manifest_reads, "the earlier builds' manifests were read through the workspace API"
