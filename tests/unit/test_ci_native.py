"""report/ci_native: summary.md handed to the CI system (GitHub's step summary file, Azure's uploadsummary
command), a step summary that cannot be written only a warning, and no secret in any form in either."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from bricktasks.console.console import Console
from bricktasks.console.redaction import secret_forms
from bricktasks.report.ci_native import STEP_SUMMARY_LIMIT, azure_upload_line, write_ci_summary
from bricktasks.report.markdown_summary import code, text
from bricktasks.report.model import BuildReport, NotebookRunReport

CI_FOLDER = "/Projects/forecasting/CI/7-BI-5613"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
# Markdown's own punctuation in it: escaped for Markdown it would be a form no redaction pass knows
SECRET = "dapi_c0ffee42*[tok]|`en`" + "0123456789abcdef"
AZURE = {"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/", "SYSTEM_TEAMPROJECT": "Forecasting Team",
         "BUILD_BUILDID": "812"}


def report(*tasks: NotebookRunReport) -> BuildReport:
    return BuildReport("7", "BI-5613", "f" * 40, CI_FOLDER, "local", "2024-05-01T10:00:00Z", list(tasks))


def task(name: str = "ModelTraining", state: str = "SUCCESS", **extra) -> NotebookRunReport:
    fields = dict(name=name, notebook_path=f"{CI_FOLDER}/{name}", run_id=41, task_run_id=42, result_state=state,
                  state_message="", duration_s=3.0, exit_value='{"mae_ratio": 0.4}', error=None, error_trace=None,
                  run_page_url=None)
    return NotebookRunReport(**{**fields, **extra})


def consoles() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(stream=out, error_stream=err, terminal=False), out, err


def test_github_step_summary_is_appended_never_truncated(tmp_path: Path) -> None:
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("## Unit tests\n\n412 passed\n")
    console, out, err = consoles()
    environ = {"GITHUB_STEP_SUMMARY": str(step_summary), "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
               "GITHUB_REPOSITORY": "acme/forecasting", "GITHUB_RUN_ID": "9", "GITHUB_RUN_ATTEMPT": "2"}
    results = tmp_path / "ci-results"
    path = write_ci_summary(report(task()), results, secrets=[], environ=environ, console=console)
    write_ci_summary(report(task(state="FAILED", error="boom")), results, secrets=[], environ=environ, console=console)
    written = step_summary.read_text()
    assert written.startswith("## Unit tests\n\n412 passed\n## ✅ bricktasks ci 7-BI-5613: **SUCCESS**")
    assert written.count("bricktasks ci 7-BI-5613") == 2 and "**FAILED**" in written.split("**SUCCESS**", 1)[1]
    assert "(https://github.com/acme/forecasting/actions/runs/9/attempts/2)" in written
    assert path == results / "summary.md" and "**FAILED**" in path.read_text()  # the file is the newest build's
    assert "##vso" not in out.getvalue() and err.getvalue() == ""


@pytest.mark.parametrize("where", ["a folder", "a missing folder", "under a file"])
def test_a_step_summary_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path, where: str) -> None:
    (tmp_path / "plain.txt").write_text("")
    target = {"a folder": tmp_path, "a missing folder": tmp_path / "gone" / "summary.md",
              "under a file": tmp_path / "plain.txt" / "summary.md"}[where]  # unwritable even for root
    console, _, err = consoles()
    path = write_ci_summary(report(task()), tmp_path / "ci-results", secrets=[], environ={"GITHUB_STEP_SUMMARY": str(target)},
                            console=console)
    assert path.is_file()
    (line,) = err.getvalue().splitlines()
    assert "warning: could not append the CI summary to GITHUB_STEP_SUMMARY" in line and "ci-results/summary.md has it" in line


def test_a_summary_over_githubs_limit_is_not_appended(tmp_path: Path) -> None:
    step_summary = tmp_path / "step_summary.md"
    console, _, err = consoles()
    many = [task(f"Task{number:05d}", exit_value=json.dumps({"x": "y" * 70})) for number in range(STEP_SUMMARY_LIMIT // 80)]
    write_ci_summary(report(*many), tmp_path / "ci-results", secrets=[], environ={"GITHUB_STEP_SUMMARY": str(step_summary)},
                     console=console)
    assert not step_summary.exists() or step_summary.read_text() == ""
    assert "over GitHub's step summary limit" in err.getvalue()


def test_azure_pipelines_gets_the_uploadsummary_command_with_the_absolute_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    console, out, _ = consoles()
    path = write_ci_summary(report(task()), Path("ci-results"), secrets=[], environ=AZURE, console=console)
    lines = out.getvalue().splitlines()
    assert lines == [f"##vso[task.uploadsummary]{(tmp_path / 'ci-results' / 'summary.md').resolve()}"]
    assert "(https://dev.azure.com/acme/Forecasting%20Team/_build/results?buildId=812)" in path.read_text()
    assert azure_upload_line(Path("/a%b/c\nd.md")) == "##vso[task.uploadsummary]/a%AZP25b/c%0Ad.md"


def test_gitlab_and_jenkins_get_the_file_only(tmp_path: Path) -> None:
    for environ in ({"GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab.com/acme/f/-/jobs/5"},
                    {"JENKINS_URL": "https://ci/", "BUILD_URL": "https://ci/job/f/5/"}):
        console, out, err = consoles()
        path = write_ci_summary(report(task()), tmp_path / "ci-results", secrets=[], environ=environ, console=console)
        assert out.getvalue() == err.getvalue() == ""
        url = environ.get("CI_JOB_URL") or environ["BUILD_URL"]
        assert f"[CI build]({url})" in path.read_text()


def test_a_secret_in_an_exit_value_and_an_error_appears_in_no_form(tmp_path: Path) -> None:
    step_summary = tmp_path / "step_summary.md"
    nested = json.dumps({"token": SECRET, "mae_ratio": 0.4, SECRET: 1})  # JSON-escaped, and a metric named by it
    tasks = [
        task("PrepareData", exit_value=nested),
        task(f"Model{SECRET}", "FAILED", exit_value=SECRET, error=f"HTTP 401 for Bearer {SECRET!r}\n{json.dumps(SECRET)}",
             error_trace=f"Traceback\n  token={SECRET}", state_message=f"failed with {SECRET}",
             run_page_url=f"https://example.com/run?token={SECRET}",
             result={"cells": [{"index": 1, "stdout": SECRET, "outputs": [{"type": "image", "format": "png", "data_base64": PNG}]}]}),
    ]
    console, out, err = consoles()
    write_ci_summary(report(*tasks), tmp_path / "ci-results", secrets=[SECRET], console=console,
                     environ={"GITHUB_STEP_SUMMARY": str(step_summary), **AZURE}, run_url=f"https://example.com/?t={SECRET}",
                     quality_markdown=f"### Compared with master\n\n{SECRET}")
    forms = {*secret_forms(SECRET), text(SECRET), code(SECRET).strip("`"), SECRET.replace("|", "\\|"), "c0ffee42"}
    written = {"summary.md": (tmp_path / "ci-results" / "summary.md").read_text(), "step summary": step_summary.read_text(),
               "output": out.getvalue() + err.getvalue()}
    assert "[REDACTED]" in written["summary.md"] and "[REDACTED]" in written["step summary"]
    for name, content in written.items():
        for form in forms:
            assert form not in content, (name, form)
    for figure in (tmp_path / "ci-results" / "figures").iterdir():
        assert b"c0ffee42" not in figure.read_bytes() and "c0ffee42" not in figure.name
