"""The HTML report as a reader sees it: real `invoke ci` runs, their report.html opened in headless
Chromium (Debian's `chromium`, which .ci/run installs).

The browser gives three views: the DOM it built (`--dump-dom`), a screenshot, and what it made of
each image (a probe page reads `naturalWidth` from the report in an iframe: the report's own
Content-Security-Policy forbids scripts). The screenshot is checked for the colours of the forecast
plot's lines, which nothing but the plot paints, so "the forecasts are plotted" is seen, not assumed.

Without Chromium these tests skip on a developer's machine and fail in CI (`CI` set), where
.ci/run installs it: a CI run never passes without looking.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from e2e_helpers import BROKEN, REPO, ProjectCopy
from matplotlib.image import imread

from bricktasks.backends.local import LocalBackend
from bricktasks.ci.manifest import write_build_manifest
from bricktasks.testing.emulator import EmulatorProcess, client_environment

CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613"}
TOKEN = "dapi-report-browser-token-0123456789"
CI_ROOT = "/Projects/forecasting/CI"
WINDOW = (1280, 4000)
# matplotlib's first two line colours: the observed series and the forecast
OBSERVED_BLUE, FORECAST_ORANGE = (31, 119, 180), (255, 127, 14)
TRACE_BACKGROUND = (0xFF, 0xEB, 0xE9)  # pre.error-trace in notebook_html.CSS
PROBE = """<!DOCTYPE html><html><body><iframe id="report" src="{url}" width="1280" height="800"></iframe>
<pre id="probe">not loaded</pre><script>
addEventListener("load", () => {{
  let text;
  try {{
    const images = document.getElementById("report").contentDocument.images;
    text = JSON.stringify([...images].map(i => ({{cls: i.className, complete: i.complete, \
width: i.naturalWidth, height: i.naturalHeight}})));
  }} catch (error) {{ text = "error: " + error; }}
  document.getElementById("probe").textContent = text;
}});
</script></body></html>
"""


class Chromium:
    """Headless Chromium with its own profile folder, one process per look."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile

    def _run(self, url: str, *flags: str) -> str:
        command = [
            self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--hide-scrollbars", f"--user-data-dir={self.profile}", *flags, url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr[-3000:]}"
        return done.stdout

    def dom(self, page: Path) -> str:
        return self._run(page.as_uri(), "--dump-dom")

    def screenshot(self, page: Path, out: Path) -> np.ndarray:
        """The page as RGB bytes (height x width x 3), saved to `out`."""
        self._run(page.as_uri(), f"--screenshot={out}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
        pixels = imread(out)
        return np.rint(pixels[..., :3] * 255).astype(np.int16)

    def images(self, page: Path, probe: Path) -> list[dict]:
        """How the browser decoded every <img> of `page`: complete, naturalWidth, naturalHeight."""
        probe.write_text(PROBE.format(url=page.as_uri()))
        dom = self._run(probe.as_uri(), "--dump-dom", "--allow-file-access-from-files")  # file: pages may read each other
        text = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)
        assert text.startswith("["), f"the probe could not read the report: {text}"
        return json.loads(text)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory) -> Chromium:
    binary = next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)
    if binary is None:
        message = "headless Chromium is needed to look at the HTML report: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: its absence is a broken CI, not a reason to pass
        pytest.skip(message)
    return Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The results folder of one local `invoke ci` of the example project (Spark, once per module)."""
    project = ProjectCopy.create(tmp_path_factory.mktemp("trained") / "project", repo=REPO)
    # master's deployed line, as an earlier CI build of master left it: the report compares with it
    backend = project.backend()
    backend.mkdirs(f"{CI_ROOT}/1-master")
    write_build_manifest(backend, f"{CI_ROOT}/1-master", {
        "build_id": "1", "branch": "master", "created": "2026-11-01T09:00:00+00:00", "run_id": None, "result": "SUCCESS",
        "libraries": [], "metrics": {"ModelTraining.mae_ratio": 0.9, "ModelTraining.mlflow.mae_ratio": 0.9},
    })
    result = project.invoke("ci", env=CI_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    return project.root / "ci-results"


def pixels_near(picture: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    return int((np.abs(picture - np.array(colour)).max(axis=2) <= tolerance).sum())


def png_size(data_uri: str) -> tuple[int, int]:
    data = base64.b64decode(data_uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def section(dom: str, css_class: str) -> str:
    """The DOM from the first element with `css_class` on: what is inside it comes first."""
    start = re.search(rf'class="[^"]*\b{css_class}\b', dom)
    assert start, f"no element of class {css_class}"
    return dom[start.start():]


@pytest.mark.spark
def test_a_reader_sees_the_status_the_metrics_the_forecast_plots_and_the_exit_value(chromium, trained, tmp_path):
    report = trained / "report.html"
    dom = chromium.dom(report)
    assert re.search(r'<span id="status" class="badge badge-success">SUCCESS</span>', dom)

    # the notebook's markdown rendered, not shown as source
    assert "<h1>Model training</h1>" in dom and "<code>INPUT_PATH</code>" in dom and "# MAGIC" not in dom

    # the metrics table the example displays: one row, the series all forecast
    tables = re.findall(r'<table class="output-table"><thead><tr>(.*?)</tr></thead><tbody>(.*?)</tbody>', dom, re.S)
    metrics = [(re.findall(r"<th>(.*?)</th>", head), re.findall(r"<tr>(.*?)</tr>", body)) for head, body in tables]
    metrics = [(columns, rows) for columns, rows in metrics if "mae_ratio" in columns]
    assert len(metrics) == 1, "the metrics table is shown once"
    columns, rows = metrics[0]
    assert {"environment", "series_in", "series_forecast", "mean_mae", "mean_baseline_mae"} <= set(columns)
    (row,) = rows
    values = dict(zip(columns, map(html.unescape, re.findall(r"<td>(.*?)</td>", row)), strict=True))
    assert values["environment"] == "ci" and values["series_forecast"] == values["series_in"] == "200"
    assert float(values["mae_ratio"]) < 0.7

    # the exit value, raw and as a table
    exit_block = section(dom, "exit-value")
    exit_value = json.loads(html.unescape(re.search(r"<pre>(.*?)</pre>", exit_block, re.S).group(1)))
    assert exit_value["series_forecast"] == 200 and exit_value["mae_ratio"] == pytest.approx(float(values["mae_ratio"]))
    assert '<table class="exit-table">' in exit_block and "<th>mae_ratio</th>" in exit_block

    # the forecast plot: in the cell and among the figures up front, a real PNG of a sensible size...
    sources = re.findall(r'<img class="(output-image|figure-image)" alt="[^"]*" src="(data:image/png;base64,[^"]+)"', dom)
    kinds = [kind for kind, _ in sources]
    assert kinds.count("figure-image") == kinds.count("output-image") >= 1, "each plot in its cell and among the figures"
    for _, src in sources:
        width, height = png_size(src)
        assert width >= 400 and height >= 400
    summary = dom.split("</header>", 1)[0]
    assert "figure-image" in summary, "the plots are in the first screen, not only deep in the cells"

    # ...that the browser decoded...
    decoded = chromium.images(report, tmp_path / "probe.html")
    assert len(decoded) >= len(sources) and all(image["complete"] and image["width"] > 0 for image in decoded), decoded
    assert len([image for image in decoded if image["width"] >= 400 and image["height"] >= 400]) >= 2, decoded

    # ...and painted: the observed series and the forecast in their line colours, in the first window
    picture = chromium.screenshot(report, tmp_path / "report.png")
    assert picture.shape == (WINDOW[1], WINDOW[0], 3)
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 500, "the page is not a blank or flat screenshot"
    assert (picture < 250).any(axis=2).mean() > 0.05, "most of the page is empty"
    assert pixels_near(picture, OBSERVED_BLUE) > 500, "the observed series is not painted"
    assert pixels_near(picture, FORECAST_ORANGE) > 100, "the forecasts are not painted"


@pytest.mark.spark
def test_the_example_records_its_metrics_and_compares_them_with_master(trained):
    """The exit values' numbers and the MLflow run's metrics (read from the local file store), beside master's."""
    manifest = json.loads(LocalBackend(trained.parent / ".databricks-local").export(f"{CI_ROOT}/7-BI-5613/.bricktasks-build.json"))
    metrics = manifest["metrics"]
    assert 0 < metrics["ModelTraining.mae_ratio"] < 0.7 and metrics["ModelTraining.series_in"] == 200  # the shorthand: one task
    assert metrics["ModelTraining.mlflow.mae_ratio"] == pytest.approx(metrics["ModelTraining.mae_ratio"]), metrics
    report = (trained / "report.html").read_text()
    quality = re.search(r'<section class="quality" id="quality">.*?</section>', report, re.S).group(0)
    assert "compared with master build <code>1-master</code>" in quality
    row = re.search(r"<tr><td><code>ModelTraining.mae_ratio</code>.*?</tr>", quality).group(0)
    assert "lower is better" in row and "<td>0.9</td>" in row and "▼" in row and "(better)" in row
    assert "<code>ModelTraining.mlflow.mean_mae</code>" in quality
    assert re.search(r'<img class="quality-trend" alt="ModelTraining.mae_ratio[^"]*" src="data:image/png;base64,', quality)


def test_a_failing_notebook_shows_its_error_and_trace_in_the_failed_cell(chromium, project, tmp_path):
    project.write_notebook("Broken", BROKEN)
    result = project.invoke("ci", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Broken"})
    assert result.returncode == 1, result.stdout + result.stderr
    report = project.root / "ci-results" / "report.html"
    dom = chromium.dom(report)
    assert '<span id="status" class="badge badge-failed">FAILED</span>' in dom
    failed = section(dom, "cell-error")
    assert failed.startswith('class="cell kind-python cell-error" id="nb-1-cell-2"')
    assert '<p class="error-message">ValueError: quality below threshold</p>' in failed
    trace = html.unescape(re.search(r'<pre class="error-trace">(.*?)</pre>', failed, re.S).group(1))
    assert "Traceback (most recent call last)" in trace and 'raise ValueError("quality below threshold")' in trace
    assert 'href="#nb-1-cell-2"' in dom  # "failed at cell 2" leads there

    picture = chromium.screenshot(report, tmp_path / "failed.png")
    assert pixels_near(picture, TRACE_BACKGROUND, tolerance=3) > 5000, "the trace is not painted"


def test_a_remote_run_links_its_run_page_and_keeps_its_export(chromium, project, tmp_path):
    project.write_notebook("Broken", BROKEN)
    project.commit_all()
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN) as emulator:
        env = {**client_environment(emulator.url, TOKEN), **CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Broken"}
        result = project.invoke("ci", env=env)
        url = emulator.url
    assert result.returncode == 1, result.stdout + result.stderr
    results = project.root / "ci-results"
    dom = chromium.dom(results / "report.html")
    assert '<span id="status" class="badge badge-failed">FAILED</span>' in dom
    page_links = set(re.findall(r'<a href="([^"]+)">run page</a>', dom))
    assert len(page_links) == 1 and page_links.pop().startswith(f"{url}/#job/"), dom
    exports = set(re.findall(r'<a href="([^"]+)">Databricks (?:run )?export</a>', dom))
    assert exports == {"Broken-run-export.html"}
    error = section(dom, "notebook-error")  # no cells in a remote run's report: the error at notebook level
    assert "ValueError: quality below threshold" in error and "Traceback (most recent call last)" in error

    export = chromium.dom(results / "Broken-run-export.html")  # the link leads to a page with the cells
    assert 'class="cell kind-python cell-error"' in export and "quality below threshold" in export
    assert not [path.name for path in results.iterdir() if TOKEN in path.read_text()]
