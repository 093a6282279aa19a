"""What a CI build leaves behind: JUnit XML for the CI system, an HTML report for people, JSON for tools.

One module per file kind (`junit`, `html` with the task graph from `dag_svg`, `summary_json`), on
the shared `model` (a report per task of the run); this module gathers their entry points.
`summary.md` (`markdown_summary`) is written apart, by `ci_native.write_ci_summary`: it also hands the
Markdown to the CI system running us, which needs the environment and the console.

Every writer takes `secrets` and redacts them twice (`redaction`): from the data before it is
rendered (so an escaped or encoded form cannot slip through) and from the text it writes. A run's
HTML export from Databricks carries the notebook as base64 inside a script, where plain text
replacement cannot see a token, so that blob is decoded, redacted and re-encoded. Files are
written atomically: a CI system never publishes half a report.

report.html opens with what a reader came for: the status, the task graph, each task's outcome,
and every figure the notebooks displayed (the example's forecast plots), each linking to its cell.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bricktasks.report.html import write_html_report
from bricktasks.report.junit import write_junit
from bricktasks.report.model import SKIPPED_STATES, BuildReport, NotebookRunReport, not_run_reason
from bricktasks.report.redaction import redact, redact_export, redact_report
from bricktasks.report.summary_json import write_summary_json

__all__ = ["BuildReport", "NotebookRunReport", "SKIPPED_STATES", "not_run_reason", "redact", "redact_export",
           "redact_report", "write_html_report", "write_junit", "write_summary_json", "write_reports"]


def write_reports(report: BuildReport, results_dir: Path, *, secrets: Sequence[str]) -> tuple[Path, Path, Path]:
    """Every report of a run into `results_dir` (made if missing): (JUnit XML, report.html, summary.json).
    `secrets` is read once per file: a sequence, not an iterator."""
    results_dir.mkdir(parents=True, exist_ok=True)
    junit = write_junit(report, results_dir / "test-results.xml", secrets=secrets)
    html = write_html_report(report, results_dir, secrets=secrets)
    return junit, html, write_summary_json(report, results_dir, secrets=secrets)
