"""report: JUnit XML a CI system accepts, the HTML report, summary.json, and no secret in any of them."""
from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

from bricktasks.report.reports import (
    BuildReport,
    NotebookRunReport,
    redact,
    redact_export,
    write_html_report,
    write_junit,
    write_summary_json,
)

CI_FOLDER = "/Projects/forecasting/CI/12-BI-1"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
TOKEN = "dapi" + "0123456789abcdef" * 2  # the shape of a Databricks personal access token
TRACE = 'Traceback (most recent call last):\n  File "<cell 2>", line 1\nValueError: quality below threshold'


def local_result(status: str = "SUCCESS", **extra) -> dict:
    cells = [
        {"index": 1, "kind": "md", "source": "%md\n# Training", "stdout": "", "outputs": [], "error": None, "duration_s": 0.0},
        {"index": 2, "kind": "python", "source": "display(df)", "stdout": "trained\n", "error": None, "duration_s": 1.5,
         "outputs": [{"type": "table", "columns": ["mae"], "rows": [[0.4]], "truncated": False},
                     {"type": "image", "format": "png", "data_base64": PNG}]},
    ]
    base = {"notebook_path": f"{CI_FOLDER}/ModelTraining", "status": status, "exit_value": None, "error": None,
            "error_trace": None, "failed_cell": None, "duration_s": 2.0, "cells": cells}
    return {**base, **extra}


def notebook(name: str = "ModelTraining", state: str = "SUCCESS", **extra) -> NotebookRunReport:
    fields = dict(
        name=name, notebook_path=f"{CI_FOLDER}/{name}", run_id=41, task_run_id=42, result_state=state, state_message="",
        duration_s=12.25, exit_value='{"mae_ratio": 0.4}' if state == "SUCCESS" else None, error=None, error_trace=None,
        run_page_url=None, result=None, export_html=None,
    )
    return NotebookRunReport(**{**fields, **extra})


def build(*notebooks: NotebookRunReport, started_at: str = "2024-05-01T10:00:00+02:00") -> BuildReport:
    return BuildReport(build_id="12", branch="BI-1", commit="a" * 40, ci_folder=CI_FOLDER, backend="local",
                       started_at=started_at, notebooks=list(notebooks))


def failed_locally(name: str = "Broken") -> NotebookRunReport:
    result = local_result("FAILED", error="ValueError: quality below threshold", error_trace=TRACE, failed_cell=2)
    return notebook(name, "FAILED", error="ValueError: quality below threshold", error_trace=TRACE, result=result)


def junit(tmp_path: Path, report: BuildReport, **kwargs) -> ET.Element:
    return ET.parse(write_junit(report, tmp_path / "test-results.xml", **kwargs)).getroot()


def export_with_model(text: str) -> str:
    """A run export shaped like Databricks': the notebook model URL-encoded, then base64, inside a script."""
    model = base64.b64encode(quote(json.dumps({"commands": [{"results": {"data": text}}]}), safe="!~*'()").encode()).decode()
    return f"<html><script>var __DATABRICKS_NOTEBOOK_MODEL = '{model}';</script><p>{text}</p></html>"


def decode_model(export: str) -> str:
    blob = re.search(r"__DATABRICKS_NOTEBOOK_MODEL = '([^']*)'", export).group(1)
    return unquote(base64.b64decode(blob).decode())


def test_junit_has_one_testcase_per_notebook_and_the_counts(tmp_path: Path) -> None:
    report = build(notebook(), failed_locally(), notebook("Slow", "TIMEDOUT", state_message="timed out after 4s"),
                   notebook("Stopped", "CANCELED"), notebook("Later", "UPSTREAM_FAILED"))
    root = junit(tmp_path, report)
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "1" and root.get("errors") == "2"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "bricktasks ci 12-BI-1"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "2", "1")
    assert suite.get("time") == "61.250" and suite.get("timestamp") == "2024-05-01T08:00:00"
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["ModelTraining", "Broken", "Slow", "Stopped", "Later"]
    assert {case.get("classname") for case in cases} == {"databricks.Projects.forecasting.CI.12-BI-1"}
    assert cases[0].get("time") == "12.250" and list(cases[0]) == [cases[0].find("system-out")]
    assert cases[4].find("skipped") is not None and cases[4].find("skipped").get("type") is None


def test_a_failed_run_is_a_failure_naming_the_cell_with_the_trace(tmp_path: Path) -> None:
    (case,) = junit(tmp_path, build(failed_locally())).iter("testcase")
    failure = case.find("failure")
    assert failure.get("type") == "FAILED"
    assert failure.get("message") == "cell 2: ValueError: quality below threshold"
    assert failure.text == TRACE and case.find("error") is None


def test_timeouts_cancels_and_internal_errors_are_errors(tmp_path: Path) -> None:
    report = build(notebook("A", "TIMEDOUT", state_message="Run timed out"), notebook("B", "CANCELED"),
                   notebook("C", "INTERNAL_ERROR", error="cluster could not start", state_message="Cluster terminated"))
    errors = [case.find("error") for case in junit(tmp_path, report).iter("testcase")]
    assert [(e.get("type"), e.get("message")) for e in errors] == [
        ("TIMEDOUT", "Run timed out"), ("CANCELED", "the run ended CANCELED"), ("INTERNAL_ERROR", "cluster could not start")]
    assert errors[1].text is None and errors[2].text == "cluster could not start"


def test_properties_and_system_out_carry_the_build_and_the_run(tmp_path: Path) -> None:
    url = "https://adb-1.azuredatabricks.net/?o=1#job/1/run/41"
    root = junit(tmp_path, build(notebook(run_page_url=url)))
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties == {"build_id": "12", "branch": "BI-1", "commit": "a" * 40, "ci_folder": CI_FOLDER,
                          "backend": "local", "run_id": "41"}
    out = root.find(".//system-out").text
    assert 'exit value: {"mae_ratio": 0.4}' in out and f"run page: {url}" in out and "task run id: 42" in out


def test_junit_stays_well_formed_with_nasty_text(tmp_path: Path) -> None:
    nasty = "bad\x00\x07\x1b[31m red\x1b[0m ]]> <x/> & \"q\" 'a' \ud800\ufffe\n second line \U0001F600"
    report = build(notebook(f"N{nasty}", "FAILED", error=nasty, error_trace=nasty + "]]>", exit_value=nasty, state_message=nasty))
    raw = write_junit(report, tmp_path / "out" / "junit.xml").read_bytes()
    raw.decode("utf-8")
    failure = ET.fromstring(raw).find(".//failure")
    assert failure.get("message") == "bad red ]]> <x/> & \"q\" 'a' second line \U0001F600"  # one line, nothing forbidden
    assert failure.text.endswith("]]>") and "\x00" not in failure.text and "\x1b" not in failure.text


def test_writes_are_atomic_and_replace_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "test-results.xml"
    path.write_text("old")
    write_junit(build(notebook()), path)
    write_summary_json(build(notebook()), tmp_path)
    assert ET.parse(path).getroot().tag == "testsuites"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json", "test-results.xml"]  # no temp files left


def test_an_unparsable_start_time_leaves_out_the_timestamp(tmp_path: Path) -> None:
    assert junit(tmp_path, build(notebook(), started_at="yesterday")).find("testsuite").get("timestamp") is None


def test_html_report_summarises_then_shows_each_notebook_in_detail(tmp_path: Path) -> None:
    ok = notebook(result=local_result(exit_value='{"mae_ratio": 0.4}'))
    page = write_html_report(build(ok, failed_locally()), tmp_path).read_text()
    assert '<span id="status" class="badge badge-failed">FAILED</span>' in page
    for fact in ("12", "BI-1", "a" * 40, "local", CI_FOLDER):
        assert f"<td>{fact}</td>" in page
    summary, details = page.split("</header>", 1)
    assert "ModelTraining" in summary and "Broken" in summary and "12.2s" in summary
    assert "{&quot;mae_ratio&quot;: 0.4}" in summary and "quality below threshold" in summary
    assert details.count('class="notebook"') == 2 and f"data:image/png;base64,{PNG}" in details
    assert "<h1>Training</h1>" in details and 'class="output-table"' in details and 'class="exit-value"' in details
    assert 'class="cell cell-error" id="nb-2-cell-2"' not in details  # classes carry the kind too
    assert re.search(r'class="cell kind-python cell-error" id="nb-2-cell-2"', details)


def test_remote_runs_link_their_run_page_and_save_their_export(tmp_path: Path) -> None:
    url = "https://adb-1.azuredatabricks.net/?o=1#job/1/run/41"
    remote = notebook("sub/Model Training", "FAILED", error="boom", error_trace="Trace <here>", run_page_url=url,
                      export_html="<html>the run as Databricks exports it</html>")
    page = write_html_report(replace(build(remote), backend="databricks"), tmp_path).read_text()
    export = tmp_path / "sub_Model_Training-run-export.html"
    assert export.read_text() == "<html>the run as Databricks exports it</html>"
    assert 'href="sub_Model_Training-run-export.html"' in page and f'href="{url.replace("&", "&amp;")}"' in page
    assert '<pre class="error-trace">Trace &lt;here&gt;</pre>' in page
    assert "Databricks run export</a>: the cells, their outputs and plots" in page  # where to look for the rest
    assert json.loads((write_summary_json(build(remote), tmp_path)).read_text())["notebooks"][0]["export_file"] == export.name


def test_a_run_page_url_that_is_not_http_is_shown_not_linked(tmp_path: Path) -> None:
    page = write_html_report(build(notebook(run_page_url="javascript:alert(1)")), tmp_path).read_text()
    assert 'href="javascript' not in page and "<code>javascript:alert(1)</code>" in page


def test_summary_json_is_machine_readable(tmp_path: Path) -> None:
    data = json.loads(write_summary_json(build(notebook(), failed_locally()), tmp_path).read_text())
    assert data["succeeded"] is False and data["build_id"] == "12" and data["branch"] == "BI-1"
    first, second = data["notebooks"]
    assert first["result_state"] == "SUCCESS" and first["exit_value"] == '{"mae_ratio": 0.4}' and first["outcome"] == "passed"
    assert second["failed_cell"] == 2 and second["outcome"] == "failure" and "cells" not in second


def test_succeeded_needs_runs_and_all_of_them_successful() -> None:
    assert build(notebook(), notebook("B")).succeeded
    assert not build(notebook(), notebook("B", "CANCELED")).succeeded
    assert not build().succeeded


def test_no_secret_reaches_any_written_file(tmp_path: Path) -> None:
    tricky = "p&ss<w>rd\"1"  # escaping would change it: it must be redacted before rendering
    leak = f"token {TOKEN} password {tricky}"
    result = local_result("FAILED", error=f"auth failed: {leak}", error_trace=f"Trace {leak}", failed_cell=2, exit_value=leak)
    result["cells"][1]["stdout"] = leak
    result["cells"][1]["source"] = f'token = "{TOKEN}"'
    result["cells"][1]["outputs"] += [{"type": "html", "html": f"<b>{leak}</b>"}, {"type": "text", "text": leak},
                                      {"type": "table", "columns": [TOKEN], "rows": [[leak]], "truncated": False}]
    local = notebook("Local", "FAILED", error=leak, error_trace=leak, exit_value=leak, state_message=leak, result=result)
    remote = notebook("Remote", "FAILED", error=leak, error_trace=leak, run_page_url=f"https://x/?t={TOKEN}",
                      export_html=export_with_model(leak))
    report = replace(build(local, remote), commit=TOKEN)
    secrets = iter([TOKEN, tricky])  # an iterator: the writers must not use it up on the first pass
    write_junit(report, tmp_path / "test-results.xml", secrets=secrets)
    write_html_report(report, tmp_path, secrets=[TOKEN, tricky])
    write_summary_json(report, tmp_path, secrets=(TOKEN, tricky))
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["Remote-run-export.html", "report.html", "summary.json", "test-results.xml"]
    escaped = {tricky.replace("&", "&amp;").replace("<", "&lt;"), json.dumps(tricky)[1:-1], quote(tricky)}
    for file in files:
        text = file.read_text()
        assert TOKEN not in text and tricky not in text and not any(form in text for form in escaped), file.name
        assert "[REDACTED]" in text
    hidden = decode_model((tmp_path / "Remote-run-export.html").read_text())
    assert TOKEN not in hidden and "[REDACTED]" in json.loads(hidden)["commands"][0]["results"]["data"]


def test_redact_export_leaves_clean_exports_alone_and_drops_models_it_cannot_read() -> None:
    clean = export_with_model("nothing secret")
    assert redact_export(clean, [TOKEN]) == clean and redact_export(export_with_model(TOKEN), []) == export_with_model(TOKEN)
    clean_model = re.search(r"'([^']*)'", clean).group(1)
    secret_model = re.search(r"'([^']*)'", export_with_model(TOKEN)).group(1)
    outer = clean.replace(clean_model, quote(secret_model, safe=""))
    assert TOKEN not in decode_model(unquote(redact_export(outer, [TOKEN])))  # a model URL-encoded once more
    unreadable = "<script>__DATABRICKS_NOTEBOOK_MODEL = 'not*base64';</script>"
    assert redact_export(unreadable, [TOKEN]) == "<script>__DATABRICKS_NOTEBOOK_MODEL = '';</script>"


def test_redact_replaces_every_secret_and_ignores_empty_ones() -> None:
    assert redact(f"a {TOKEN} b {TOKEN}", ["", TOKEN]) == "a [REDACTED] b [REDACTED]"


def test_figures_come_first_each_linking_to_the_cell_that_displayed_it(tmp_path: Path) -> None:
    page = write_html_report(build(notebook(result=local_result()), failed_locally()), tmp_path).read_text()
    summary, details = page.split("</header>", 1)
    figures = re.findall(r'<figure><a href="#([^"]+)"><img class="figure-image" alt="([^"]+)" src="([^"]+)">', summary)
    assert figures == [("nb-1-cell-2", "ModelTraining · cell 2", f"data:image/png;base64,{PNG}"),
                       ("nb-2-cell-2", "Broken · cell 2", f"data:image/png;base64,{PNG}")]
    assert 'id="nb-1-cell-2"' in details and 'id="nb-2-cell-2"' in details  # the links lead somewhere
    assert summary.index("<h2>Figures</h2>") > summary.index('class="notebooks"')  # after the outcomes


def test_no_figures_heading_without_images_and_bad_images_are_left_out(tmp_path: Path) -> None:
    result = local_result()
    result["cells"][1]["outputs"] = [{"type": "image", "format": "png", "data_base64": "not base64!"}]
    for report in (build(notebook()), build(notebook(result=result))):
        assert "Figures" not in write_html_report(report, tmp_path).read_text()


def test_a_remote_runs_exit_metrics_are_a_table_in_the_report(tmp_path: Path) -> None:
    remote = notebook(exit_value='{"environment": "ci", "mae_ratio": 0.2958179}', run_page_url="https://x/run/41",
                      export_html="<html></html>")
    page = write_html_report(replace(build(remote), backend="databricks"), tmp_path).read_text()
    assert "<tr><th>mae_ratio</th><td>0.295818</td></tr>" in page.split("</header>", 1)[1]


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    report = build(notebook(export_html="<html></html>"))
    paths = [write_junit(report, tmp_path / "test-results.xml"), write_html_report(report, tmp_path),
             write_summary_json(report, tmp_path), tmp_path / "ModelTraining-run-export.html"]
    assert {oct(path.stat().st_mode & 0o777) for path in paths} == {"0o644"}
