"""report/markdown_summary: summary.md and the CI page text, parsed by a CommonMark parser with tables
(markdown-it-py, the parser rich uses) so what is checked is what a reader's page would show."""
from __future__ import annotations

import base64
import re
from pathlib import Path

from markdown_it import MarkdownIt

from bricktasks.report.markdown_summary import (
    figures_of,
    render_markdown_summary,
    task_metrics,
    write_markdown_summary,
)
from bricktasks.report.model import BuildReport, NotebookRunReport

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
PNG = base64.b64encode(PNG_BYTES).decode()
SVG = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>").decode()
CI_FOLDER = "/Projects/forecasting/CI/7-BI-5613"
RUN_URL = "https://adb-1.azuredatabricks.net/?o=1#job/1/run/41"
BUILD_URL = "https://github.com/acme/forecasting/actions/runs/9"
PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def task(name: str, state: str = "SUCCESS", **extra) -> NotebookRunReport:
    fields = dict(name=name, notebook_path=f"{CI_FOLDER}/{name}", run_id=41, task_run_id=42, result_state=state,
                  state_message="", duration_s=12.25, exit_value=None, error=None, error_trace=None, run_page_url=RUN_URL)
    return NotebookRunReport(**{**fields, **extra})


def image_cell(index: int, data: str = PNG, kind: str = "png") -> dict:
    return {"index": index, "outputs": [{"type": "table", "columns": ["a"], "rows": [[1]]},
                                        {"type": "image", "format": kind, "data_base64": data}]}


def example_build() -> BuildReport:
    """The example's DAG as the local backend reports it: exit values as its notebooks make them."""
    return BuildReport("7", "BI-5613", "0123456789abcdef" * 2 + "01234567", CI_FOLDER, "local", "2024-05-01T10:00:00Z", [
        task("PrepareData", exit_value='{"series": 200, "rows": 36000, "path": "/tmp/panel"}'),
        task("ModelTraining", duration_s=75.5, attempts=2, depends_on=("PrepareData",),
             exit_value='{"mae_ratio": 0.41234, "series_in": 200, "series_forecast": 200, "mlflow_run_id": "abc", "seconds": 70.1}',
             result={"cells": [image_cell(5), image_cell(5), image_cell(7, SVG, "svg")]}),
        task("Evaluate", depends_on=("ModelTraining",),
             exit_value='{"mae_ratio": 0.41234, "max_mae_ratio": 0.7, "quality_gate": "passed", "ok": true, "bad": NaN}'),
    ])


def cells(markdown: str) -> list[list[str]]:
    """Every table row of the rendered page, as the text of its cells."""
    page = PARSER.render(markdown)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)]


def test_a_passing_build_has_a_badge_links_a_task_table_and_a_metrics_table() -> None:
    markdown = render_markdown_summary(example_build(), place="folder", run_url=RUN_URL, build_url=BUILD_URL)
    first = markdown.splitlines()[0]
    assert first == "## ✅ bricktasks ci 7-BI-5613: **SUCCESS**"
    page = PARSER.render(markdown)
    assert f'<a href="{RUN_URL.replace("&", "&amp;")}">run page</a>' in page and f'<a href="{BUILD_URL}">CI build</a>' in page
    assert '<a href="report.html">report.html</a>' in page
    rows = cells(markdown)
    assert rows[0] == ["Task", "Result", "Duration", "Attempts", "Exit value"]  # no Problem column when nothing failed
    assert rows[1][:4] == ["PrepareData", "✅ SUCCESS", "12.2s", "1"] and rows[2][:4] == ["ModelTraining", "✅ SUCCESS", "1m15s", "2"]
    assert rows[1][4].startswith("<code>{&quot;series&quot;: 200")
    metrics = [row for row in rows if len(row) == 3]
    assert metrics == [["Task", "Metric", "Value"], ["PrepareData", "series", "200"], ["PrepareData", "rows", "36000"],
                       ["ModelTraining", "mae_ratio", "0.4123"], ["ModelTraining", "series_in", "200"],
                       ["ModelTraining", "series_forecast", "200"], ["ModelTraining", "seconds", "70.1"],
                       ["Evaluate", "mae_ratio", "0.4123"], ["Evaluate", "max_mae_ratio", "0.7"]]


def test_metrics_are_the_numbers_of_a_json_object_exit_value_only() -> None:
    assert task_metrics(task("T", exit_value="0.5")) == []  # a bare number names no metric
    assert task_metrics(task("T", exit_value="not json")) == []
    assert task_metrics(task("T", exit_value=None)) == []
    assert task_metrics(task("T", exit_value='[1, 2]')) == []
    assert task_metrics(task("T", exit_value='{"a": 1, "b": true, "c": "2", "d": 1e400, "e": -0.25}')) == [("a", 1), ("e", -0.25)]
    # nested objects as the quality comparison reads them: dotted keys; and as capped there
    assert task_metrics(task("T", exit_value='{"fit": {"mae": 0.125, "rows": 123456}}')) == [("fit.mae", 0.125), ("fit.rows", 123456)]
    many = "{" + ", ".join(f'"m{i:04}": {i}' for i in range(500)) + "}"
    assert len(task_metrics(task("T", exit_value=many))) == 200


def test_the_summary_prints_whole_numbers_whole() -> None:
    report = BuildReport("7", "BI-5613", "", CI_FOLDER, "local", "", [task("Fit", exit_value='{"rows": 123456, "mae": 0.123456}')])
    markdown = render_markdown_summary(report, place="page")
    assert "| Fit | rows | 123456 |" in markdown and "| Fit | mae | 0.1235 |" in markdown


def test_the_page_and_the_summary_show_one_state_for_every_build(tmp_path: Path) -> None:
    from bricktasks.report.html import write_html_report

    builds = {
        "NOTHING RUN": [],
        "SUCCESS": [task("A"), task("B", "EXCLUDED")],
        "EXCLUDED": [task("A", "EXCLUDED")],
        "INTERNAL_ERROR": [task("A", "UPSTREAM_FAILED"), task("B", "INTERNAL_ERROR")],
        "CANCELED": [task("A"), task("B", "CANCELED")],
    }
    for expected, tasks in builds.items():
        report = BuildReport("7", "BI-5613", "", CI_FOLDER, "local", "", tasks)
        assert report.overall_state == expected
        assert render_markdown_summary(report, place="page").split("\n", 1)[0].endswith(f"**{expected.replace('_', chr(92) + '_')}**")
        folder = tmp_path / expected.replace(" ", "_")
        folder.mkdir()
        page = write_html_report(report, folder).read_text(encoding="utf-8")
        assert re.search(r'<span id="status" class="badge [^"]*">([^<]*)</span>', page)[1] == expected
        assert f"<title>bricktasks ci 7-BI-5613: {expected}</title>" in page


def test_a_failed_build_names_the_task_that_broke_and_why_the_others_did_not_run() -> None:
    report = BuildReport("7", "BI-5613", "", CI_FOLDER, "databricks", "", [
        task("PrepareData"),
        task("ModelTraining", "FAILED", error="ValueError: quality below threshold", depends_on=("PrepareData",)),
        task("Evaluate", "UPSTREAM_FAILED", depends_on=("ModelTraining",)),
    ])
    assert report.overall_state == "FAILED"
    markdown = render_markdown_summary(report, place="page")
    assert markdown.startswith("## ❌ bricktasks ci 7-BI-5613: **FAILED**")
    rows = cells(markdown)
    assert rows[0][-1] == "Problem"
    assert rows[2][1] == "❌ FAILED" and rows[2][-1] == "ValueError: quality below threshold"
    assert rows[3][1] == "⚠️ UPSTREAM_FAILED" and rows[3][-1] == "not run: upstream task ModelTraining failed"
    assert "commit" not in markdown.splitlines()[2]  # no commit known: none shown


def test_a_timed_out_build_and_a_build_with_nothing_run() -> None:
    timed_out = BuildReport("7", "b", "", CI_FOLDER, "local", "", [task("Sleeper", "TIMEDOUT", error="timed out")])
    assert render_markdown_summary(timed_out, place="folder").startswith("## ⏱️ bricktasks ci 7-b: **TIMEDOUT**")
    empty = BuildReport("7", "b", "", CI_FOLDER, "local", "", [])
    markdown = render_markdown_summary(empty, place="folder")
    assert "**NOTHING RUN**" in markdown and "_No task ran._" in markdown


def test_hostile_names_and_values_stay_text_in_their_own_cell() -> None:
    """Task keys, errors and exit values come from a pull request: none opens a link, an image, an HTML
    tag or a new cell, and a value full of backticks stays one code span."""
    hostile = "A|B ![x](https://evil/p.png) <img src=x onerror=alert(1)> [click](https://evil) **bold** `code`"
    report = BuildReport("7", "b", "", CI_FOLDER, "local", "", [
        task(hostile, "FAILED", error=hostile + "\nsecond line", exit_value="``a|b`` `c` <script>"),
    ])
    for place in ("folder", "page"):
        markdown = render_markdown_summary(report, place=place)  # type: ignore[arg-type]
        page = PARSER.render(markdown)
        assert "<img" not in page and "evil" not in re.sub(r"<code>.*?</code>|<td>.*?</td>", "", page, flags=re.S)
        assert 'href="https://evil' not in page and "<strong>" not in page.split("<table>", 1)[1] and "<script>" not in page
        header, row = cells(markdown)[:2]
        assert len(row) == len(header) == 6
        assert row[0] == "A|B ![x](https://evil/p.png) &lt;img src=x onerror=alert(1)&gt; [click](https://evil) **bold** `code`"
        assert row[4] == "<code>``a|b`` `c` &lt;script&gt;</code>"
        assert row[5].endswith("`code` second line")  # the error on one line, in its cell


def test_figures_are_files_in_the_folder_and_named_on_a_page(tmp_path: Path) -> None:
    report = example_build()
    figures = figures_of(report)
    assert [figure.file_name for figure in figures] == ["2-ModelTraining-cell-5-1.png", "2-ModelTraining-cell-5-2.png"]  # no SVG
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "1-Old-cell-1-1.png").write_bytes(b"old build's")
    (tmp_path / "figures" / "notes.txt").write_text("not ours")
    written = write_markdown_summary(report, tmp_path, run_url=RUN_URL, build_url=BUILD_URL)
    assert written.path == tmp_path / "summary.md"
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == [
        "2-ModelTraining-cell-5-1.png", "2-ModelTraining-cell-5-2.png", "notes.txt"]
    assert (tmp_path / "figures" / "2-ModelTraining-cell-5-1.png").read_bytes() == PNG_BYTES
    folder_page = PARSER.render(written.path.read_text())
    sources = re.findall(r'<img src="([^"]+)"', folder_page)
    assert sources == ["figures/2-ModelTraining-cell-5-1.png", "figures/2-ModelTraining-cell-5-2.png"]
    assert all((tmp_path / source).is_file() for source in sources)
    ci_page = PARSER.render(written.page_text)
    assert "<img" not in ci_page and "data:" not in written.page_text  # GitHub strips data: images; no local file is reachable
    assert "2 figures (ModelTraining)" in ci_page and f'<a href="{BUILD_URL}">this build</a>' in ci_page
    assert 'href="report.html"' not in ci_page


def test_a_remote_runs_figures_are_in_its_export(tmp_path: Path) -> None:
    report = BuildReport("7", "b", "", CI_FOLDER, "databricks", "", [task("Model Training", export_html="<html></html>")])
    markdown = write_markdown_summary(report, tmp_path).page_text
    assert "`Model_Training-run-export.html`" in markdown and not (tmp_path / "figures").exists()


def test_the_quality_section_goes_between_the_metrics_and_the_figures() -> None:
    quality = "### Compared with master\n\n| Metric | master | this build |\n|---|---:|---:|\n| mae_ratio | 0.45 | 0.41 ▼ 8.4% |\n"
    markdown = render_markdown_summary(example_build(), place="folder", figures=figures_of(example_build()),
                                       quality_markdown=quality)
    assert markdown.index("### Metrics") < markdown.index("### Compared with master") < markdown.index("### Figures")
    assert ["mae_ratio", "0.45", "0.41 ▼ 8.4%"] in cells(markdown)
