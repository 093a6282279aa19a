"""Issue 11 item 15 in a browser: a failing notebook whose displayHTML tries to redirect the report and to
fake (or hide) its status, run through a real `invoke ci`, its report.html opened in headless Chromium.

Uses test_e2e_report_browser's Chromium (and its rule: skip without Chromium on a developer's machine, fail in CI).
"""
from __future__ import annotations

import json
import re

from e2e_helpers import HEADER
from test_e2e_report_browser import CI_ENV, Chromium, chromium, pixels_near  # noqa: F401 - chromium is a fixture

FAILED_RED = (0xCF, 0x22, 0x2E)  # .badge-failed in notebook_html.CSS
SUCCESS_GREEN = (0x1A, 0x7F, 0x37)  # .badge-success

HOSTILE = HEADER + """displayHTML(
    '<meta http-equiv="refresh" content="0;url=EVIL_URL">'
    '<style>#status, .badge-failed {display: none !important}</style>'
    '<script>window.top.location = "EVIL_URL"; document.title = "pwned";</script>'
    '<span id="status" class="badge badge-success">SUCCESS</span><p>a chart</p>'
)

# COMMAND ----------

raise ValueError("the real outcome")
"""


def test_hostile_display_html_neither_redirects_the_report_nor_changes_its_status(chromium: Chromium, project, tmp_path):
    evil = tmp_path / "evil.html"
    evil.write_text('<!DOCTYPE html><html><body><h1 id="evil">you were redirected</h1></body></html>')
    project.write_notebook("Hostile", HOSTILE.replace("EVIL_URL", evil.as_uri()))
    result = project.invoke("ci", env={**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Hostile"})
    assert result.returncode == 1, result.stdout + result.stderr
    report = project.root / "ci-results" / "report.html"

    # a few seconds of the page's (virtual) time: a refresh, a script or a frame navigation would have happened
    dom = chromium._run(report.as_uri(), "--dump-dom", "--virtual-time-budget=5000")
    assert "you were redirected" not in dom and 'id="evil"' not in dom
    assert "<title>pwned</title>" not in dom
    assert re.findall(r'<span id="status" class="badge badge-[a-z]+">[A-Z]+</span>', dom) == [
        '<span id="status" class="badge badge-failed">FAILED</span>'
    ]
    assert 'sandbox=""' in dom and "output-html" in dom

    # what a reader sees: the real FAILED badges painted red, no green SUCCESS badge anywhere
    picture = chromium.screenshot(report, tmp_path / "hostile.png")
    header = picture[:200]
    assert pixels_near(header, FAILED_RED, tolerance=10) > 200, "the FAILED badge is hidden"
    assert pixels_near(picture, SUCCESS_GREEN, tolerance=10) == 0, "a SUCCESS badge is painted"
    summary = json.loads((project.root / "ci-results" / "summary.json").read_text())
    assert summary["succeeded"] is False
