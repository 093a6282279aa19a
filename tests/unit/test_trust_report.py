"""Issue 11 item 15: a notebook's displayHTML (a pull request's code) cannot redirect the HTML report, run
script in it, or fake or hide the build's status. The generated HTML is parsed as a browser would see the
report's own document: the hostile markup is only ever inside a sandboxed frame's escaped `srcdoc`."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bricktasks.backends.notebook_html import CSP, render_run_html
from bricktasks.report.reports import BuildReport, NotebookRunReport, write_html_report

REFRESH = '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
HOSTILE = [
    REFRESH,
    "<META HTTP-EQUIV=Refresh CONTENT='0; URL=file:///etc/passwd'>",
    '<span id="status" class="badge badge-success">SUCCESS</span>',
    "<style>#status, .badge-failed { display: none !important }</style>",
    "<script>document.title = 'pwned'</script>",
    '<img src=x onerror="location=\'https://evil.example\'">',
    '<base href="https://evil.example/">',
    '<form action="https://evil.example"><button>go</button></form>',
    # attempts to close the frame's attribute or the frame itself
    '"></iframe><span id="status">SUCCESS</span>',
    "&quot;></iframe><span id=status>SUCCESS</span>",
    "</iframe><meta http-equiv=refresh content=0;url=https://evil.example>",
    '<iframe srcdoc="<script>top.location=1</script>"></iframe>',
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<svg onload=alert(1)><animate attributeName=href to=javascript:alert(1) /></svg>",
]


class TopDocument(HTMLParser):
    """The report's own elements (a frame's srcdoc is an attribute value, not elements)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def _result(status: str, markup: str) -> dict:
    cell = {"index": 1, "kind": "python", "source": "displayHTML(page)", "stdout": "", "error": None, "duration_s": 0.1,
            "outputs": [{"type": "html", "html": markup}]}
    return {"notebook_path": "/Projects/forecasting/CI/1-BI-1/Evil", "status": status, "exit_value": None, "error": "boom",
            "error_trace": None, "failed_cell": None, "duration_s": 1.0, "cells": [cell]}


def _check_isolated(page: str, markup: str, status: str) -> None:
    top = TopDocument(page)
    assert [attrs for attrs in top.named("meta") if attrs.get("http-equiv", "").lower() == "refresh"] == []
    assert top.named("script") == [] and top.named("base") == [] and top.named("form") == [] and top.named("link") == []
    assert top.named("style") == [{}]  # the report's own stylesheet, once
    assert not any(name.startswith("on") for _, attrs in top.tags for name in attrs)
    statuses = [attrs for _, attrs in top.tags if attrs.get("id") == "status"]
    assert len(statuses) == 1 and f"badge-{status.lower()}" in statuses[0]["class"]
    assert re.search(rf'<span id="status" class="badge badge-{status.lower()}">{status}</span>', page)
    (frame,) = top.named("iframe")
    assert frame["sandbox"] == "" and "output-html" in frame["class"]  # no allow-scripts, no allow-top-navigation
    assert markup in frame["srcdoc"]  # the markup whole, as the frame's own document
    assert f'content="{CSP}"' in frame["srcdoc"]  # the frame carries the policy too
    policies = [attrs["content"] for attrs in top.named("meta") if attrs.get("http-equiv", "").lower() == "content-security-policy"]
    assert policies == [CSP]
    for directive in ("default-src 'none'", "script-src 'none'", "base-uri 'none'", "form-action 'none'", "object-src 'none'"):
        assert directive in CSP


@pytest.mark.parametrize("markup", HOSTILE)
def test_hostile_display_html_stays_in_its_sandboxed_frame(markup):
    page = render_run_html("CI-1-BI-1", [_result("FAILED", markup)])
    _check_isolated(page, markup, "FAILED")


def test_all_hostile_outputs_at_once_in_the_ci_report(tmp_path: Path):
    markup = "".join(HOSTILE)
    notebook = NotebookRunReport(
        name="Evil", notebook_path="/Projects/forecasting/CI/1-BI-1/Evil", run_id=1, task_run_id=2, result_state="FAILED",
        state_message="", duration_s=1.0, exit_value=None, error="boom", error_trace=None, run_page_url=None,
        result=_result("FAILED", markup),
    )
    report = BuildReport(build_id="1", branch="BI-1", commit="abc", ci_folder="/Projects/forecasting/CI/1-BI-1",
                         backend="local", started_at="2026-01-01T00:00:00+00:00", notebooks=[notebook])
    page = write_html_report(report, tmp_path).read_text()
    _check_isolated(page, markup, "FAILED")


def test_raw_html_in_a_markdown_cell_is_shown_as_text():
    cell = {"index": 1, "kind": "md", "source": f"%md\n# Title\n\n{REFRESH}\n\n<span id=\"status\">SUCCESS</span> and <b>x</b>",
            "stdout": "", "outputs": [], "error": None, "duration_s": 0.1}
    result = {**_result("FAILED", ""), "cells": [cell]}
    page = render_run_html("CI-1-BI-1", [result])
    top = TopDocument(page)
    assert "<h1>Title</h1>" in page  # markdown still renders
    assert not [attrs for attrs in top.named("meta") if attrs.get("http-equiv") == "refresh"]
    assert len([attrs for _, attrs in top.tags if attrs.get("id") == "status"]) == 1
    assert "&lt;meta http-equiv=" in page  # shown, as text
