"""JUnit XML for the CI system's test tab: one <testsuite> for the build, one <testcase> per task.

A failed task is a <failure> (an error, timeout or cancel an <error>) with its message, the cell
that broke and, when it was retried, how many attempts it had; a task that did not run because of
its upstream is <skipped> with the reason, naming the upstream task. Every text goes through
`clean_text`: task keys and messages come from a pull request and must not break the XML.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from bricktasks.backends.notebook_html import clean_text
from bricktasks.console.redaction import redact
from bricktasks.report.files import atomic_write
from bricktasks.report.model import BuildReport, NotebookRunReport, not_run_reason, outcome
from bricktasks.report.redaction import redact_report, secrets_of

__all__ = ["write_junit", "one_line", "task_message"]

_MESSAGE_LIMIT = 1000


def one_line(text: str) -> str:
    line = " ".join(clean_text(text).split())
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 1] + "…"


def task_message(nb: NotebookRunReport, tasks: list[NotebookRunReport]) -> str:
    """The one line a reader of a CI summary needs first: where it broke, or why it did not run."""
    reason = not_run_reason(nb, tasks)
    if reason:
        return one_line(reason)
    text = nb.error or nb.state_message or f"the run ended {nb.result_state}"
    cell = nb.failed_cell
    if cell is not None and f"cell {cell}" not in text:
        text = f"cell {cell}: {text}"
    if nb.attempts > 1:
        text = f"{text} (after {nb.attempts} attempts)"
    return one_line(text)


def _junit_timestamp(text: str) -> str | None:
    """JUnit wants a plain ISO 8601 local time; the report's time is turned into UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def _system_out(nb: NotebookRunReport) -> str:
    lines = [f"task: {nb.key}", f"notebook: {nb.notebook_path}",
             f"state: {nb.result_state}" + (f" ({nb.state_message})" if nb.state_message else "")]
    if nb.depends_on:
        lines.append(f"depends on: {', '.join(nb.depends_on)}" + (f" (run_if {nb.run_if})" if nb.run_if else ""))
    if nb.attempts > 1:
        lines.append(f"attempts: {nb.attempts}")
    lines.append(f"run id: {nb.run_id}, task run id: {nb.task_run_id}")
    if nb.exit_value is not None:
        lines.append(f"exit value: {nb.exit_value}")
    if nb.run_page_url:
        lines.append(f"run page: {nb.run_page_url}")
    return clean_text("\n".join(lines))


def _testcase(suite: ET.Element, nb: NotebookRunReport, result: str, classname: str, tasks: list[NotebookRunReport]) -> None:
    attributes = {"classname": clean_text(classname), "name": clean_text(nb.key), "time": f"{nb.duration_s:.3f}"}
    case = ET.SubElement(suite, "testcase", attributes)
    if result != "passed":
        attributes = {"message": task_message(nb, tasks)}
        if result != "skipped":  # <skipped> has only a message in the JUnit schemas CI systems validate against
            attributes["type"] = clean_text(nb.result_state)
        element = ET.SubElement(case, result, attributes)
        if result != "skipped":
            element.text = clean_text(nb.error_trace or nb.error or nb.state_message or "")
    ET.SubElement(case, "system-out").text = _system_out(nb)


def write_junit(report: BuildReport, path: Path, *, secrets: Iterable[str] = ()) -> Path:
    """One <testsuite> for the build, one <testcase> per task, in the run's task order."""
    secrets = secrets_of(secrets)
    report = redact_report(report, secrets)
    results = [outcome(nb.result_state) for nb in report.notebooks]
    counts = {key: str(results.count(result)) for key, result in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped"))}
    time = f"{sum(nb.duration_s for nb in report.notebooks):.3f}"
    suite = ET.Element(
        "testsuite", {"name": clean_text(f"bricktasks ci {report.name}"), "tests": str(len(results)), **counts, "time": time}
    )
    stamp = _junit_timestamp(report.started_at)
    if stamp:
        suite.set("timestamp", stamp)
    properties = ET.SubElement(suite, "properties")
    run_ids = sorted({str(nb.run_id) for nb in report.notebooks if nb.run_id is not None})  # one per CI run, normally
    values = [("build_id", report.build_id), ("branch", report.branch), ("commit", report.commit),
              ("ci_folder", report.ci_folder), ("backend", report.backend), ("run_id", ",".join(run_ids))]
    for name, value in values:
        ET.SubElement(properties, "property", {"name": name, "value": clean_text(value or "")})
    classname = "databricks." + ".".join(part for part in report.ci_folder.split("/") if part)
    for nb, result in zip(report.notebooks, results, strict=True):
        _testcase(suite, nb, result, classname, report.notebooks)
    root = ET.Element("testsuites", {key: suite.attrib[key] for key in ("name", "tests", "failures", "errors", "time")})
    root.append(suite)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return atomic_write(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + redact(text, secrets) + "\n")
