"""What a CI build leaves behind: JUnit XML for the CI system, an HTML report for people, JSON for tools.

Every writer takes `secrets` and redacts them twice: from the data before it is rendered
(so an escaped or encoded form cannot slip through) and from the text it writes. A run's
HTML export from Databricks carries the notebook as base64 inside a script, where plain
text replacement cannot see a token, so that blob is decoded, redacted and re-encoded.
Files are written atomically: a CI system never publishes half a report.

report.html opens with what a reader came for: the status, each notebook's outcome, and every
figure the notebooks displayed (the example's forecast plots), each linking to its cell.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from bricktasks.backends.notebook_html import (
    clean_text,
    esc,
    image_src,
    link,
    overall_status,
    page,
    render_notebook,
    seconds,
    shorten,
    status_badge,
)
from bricktasks.console.redaction import redact

__all__ = ["BuildReport", "NotebookRunReport", "redact", "redact_export", "redact_report",
           "write_html_report", "write_junit", "write_summary_json"]

# Result states that mean "did not run" rather than "broke"; every other non-SUCCESS is an error.
SKIPPED_STATES = frozenset({"SKIPPED", "EXCLUDED", "DISABLED", "UPSTREAM_FAILED", "UPSTREAM_CANCELED"})
_MODEL = re.compile(r"(__DATABRICKS_NOTEBOOK_MODEL\s*=\s*')([^']*)(')")
_MESSAGE_LIMIT = 1000
_BULKY = ("result", "export_html")  # in report.html and the export file, not in summary.json
# mkstemp makes 0600 files; a report is for people and CI systems that may not be the writing user
_FILE_MODE = 0o644


@dataclass(frozen=True)
class NotebookRunReport:
    """One notebook task of a CI run, remote (export_html) or local (result with cells)."""

    name: str
    notebook_path: str
    run_id: int | None
    task_run_id: int | None
    result_state: str
    state_message: str
    duration_s: float
    exit_value: str | None
    error: str | None
    error_trace: str | None
    run_page_url: str | None
    result: dict | None = None
    export_html: str | None = None

    @property
    def failed_cell(self) -> int | None:
        return (self.result or {}).get("failed_cell")


@dataclass(frozen=True)
class BuildReport:
    """A CI build and the notebook runs it made."""

    build_id: str
    branch: str
    commit: str
    ci_folder: str
    backend: str
    started_at: str
    notebooks: list[NotebookRunReport]

    @property
    def succeeded(self) -> bool:
        """True only when there was something to run and all of it succeeded."""
        return bool(self.notebooks) and all(nb.result_state == "SUCCESS" for nb in self.notebooks)

    @property
    def name(self) -> str:
        return f"{self.build_id}-{self.branch}"


# -- redaction -------------------------------------------------------------------------
def _secrets(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(secret for secret in secrets if secret)  # a generator must survive several passes


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_scrub(key, secrets): _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, secrets) for item in value]
    return value


def redact_export(text: str, secrets: Iterable[str]) -> str:
    """Redact a Databricks run export, including inside its base64 notebook model.

    A model we cannot decode might hide a secret, so with secrets to look for it is dropped.
    """
    secrets = _secrets(secrets)

    def fix(match: re.Match[str]) -> str:
        blob = match.group(2)
        outer = "%" in blob  # base64 has no '%': the blob was URL-encoded once more
        try:
            model = unquote(base64.b64decode(unquote(blob) if outer else blob, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            return match.group(1) + match.group(3) if secrets else match.group(0)
        cleaned = redact(model, secrets)
        if cleaned == model:
            return match.group(0)
        encoded = base64.b64encode(quote(cleaned, safe="!~*'()").encode("ascii")).decode("ascii")
        return match.group(1) + (quote(encoded, safe="") if outer else encoded) + match.group(3)

    return redact(_MODEL.sub(fix, text), secrets) if secrets else text


def redact_report(report: BuildReport, secrets: Iterable[str]) -> BuildReport:
    """A copy of the report with every secret removed from every string in it."""
    secrets = _secrets(secrets)
    if not secrets:
        return report
    notebooks = []
    for nb in report.notebooks:
        fields = {field.name: _scrub(getattr(nb, field.name), secrets) for field in dataclasses.fields(nb)}
        fields["export_html"] = redact_export(nb.export_html, secrets) if nb.export_html else nb.export_html
        notebooks.append(NotebookRunReport(**fields))
    fields = {field.name: _scrub(getattr(report, field.name), secrets) for field in dataclasses.fields(report)}
    return BuildReport(**{**fields, "notebooks": notebooks})


# -- files -----------------------------------------------------------------------------
def _atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _one_line(text: str) -> str:
    line = " ".join(clean_text(text).split())
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 1] + "…"


def _outcome(state: str) -> str:
    if state == "SUCCESS":
        return "passed"
    if state == "FAILED":
        return "failure"
    return "skipped" if state in SKIPPED_STATES else "error"


def _message(nb: NotebookRunReport) -> str:
    text = nb.error or nb.state_message or f"the run ended {nb.result_state}"
    cell = nb.failed_cell
    if cell is not None and f"cell {cell}" not in text:
        text = f"cell {cell}: {text}"  # the first thing a reader of a CI summary needs
    return _one_line(text)


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
    lines = [f"notebook: {nb.notebook_path}", f"state: {nb.result_state}" + (f" ({nb.state_message})" if nb.state_message else "")]
    lines.append(f"run id: {nb.run_id}, task run id: {nb.task_run_id}")
    if nb.exit_value is not None:
        lines.append(f"exit value: {nb.exit_value}")
    if nb.run_page_url:
        lines.append(f"run page: {nb.run_page_url}")
    return clean_text("\n".join(lines))


def write_junit(report: BuildReport, path: Path, *, secrets: Iterable[str] = ()) -> Path:
    """One <testsuite> for the build, one <testcase> per notebook run."""
    secrets = _secrets(secrets)
    report = redact_report(report, secrets)
    outcomes = [_outcome(nb.result_state) for nb in report.notebooks]
    counts = {key: str(outcomes.count(outcome)) for key, outcome in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped"))}
    time = f"{sum(nb.duration_s for nb in report.notebooks):.3f}"
    suite = ET.Element(
        "testsuite", {"name": clean_text(f"bricktasks ci {report.name}"), "tests": str(len(outcomes)), **counts, "time": time}
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
    for nb, outcome in zip(report.notebooks, outcomes, strict=True):
        attributes = {"classname": clean_text(classname), "name": clean_text(nb.name), "time": f"{nb.duration_s:.3f}"}
        case = ET.SubElement(suite, "testcase", attributes)
        if outcome != "passed":
            attributes = {"message": _message(nb)}
            if outcome != "skipped":  # <skipped> has only a message in the JUnit schemas CI systems validate against
                attributes["type"] = clean_text(nb.result_state)
            element = ET.SubElement(case, outcome, attributes)
            if outcome != "skipped":
                element.text = clean_text(nb.error_trace or nb.error or nb.state_message or "")
        ET.SubElement(case, "system-out").text = _system_out(nb)
    root = ET.Element("testsuites", {key: suite.attrib[key] for key in ("name", "tests", "failures", "errors", "time")})
    root.append(suite)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return _atomic_write(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + redact(text, secrets) + "\n")


# -- HTML ------------------------------------------------------------------------------
def _export_names(notebooks: list[NotebookRunReport]) -> dict[int, str]:
    names: dict[int, str] = {}
    for number, nb in enumerate(notebooks):
        if nb.export_html:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "_", nb.name).strip("._") or "notebook"
            name = f"{stem}-run-export.html"
            if name in names.values():  # two notebooks whose names differ only in punctuation
                name = f"{stem}-{number + 1}-run-export.html"
            names[number] = name
    return names


def _figures(notebooks: list[NotebookRunReport]) -> str:
    """Every image output of every notebook, in order, each linking to the cell that displayed it."""
    figures = []
    for number, nb in enumerate(notebooks, 1):
        for cell in (nb.result or {}).get("cells") or []:
            if not isinstance(cell, dict):
                continue
            for output in cell.get("outputs") or []:
                src = image_src(output) if isinstance(output, dict) and output.get("type") == "image" else None
                if src:
                    caption = esc(f"{nb.name} · cell {cell.get('index')}")
                    anchor = esc(f"nb-{number}-cell-{cell.get('index')}")
                    figures.append(f'<figure><a href="#{anchor}"><img class="figure-image" alt="{caption}" src="{src}"></a>'
                                   f"<figcaption>{caption}</figcaption></figure>")
    if not figures:
        return ""
    return f'<h2>Figures</h2><div class="figures">{"".join(figures)}</div>'


def _summary(report: BuildReport, exports: dict[int, str]) -> str:
    facts = [("Build", report.build_id), ("Branch", report.branch), ("Commit", report.commit),
             ("Backend", report.backend), ("CI folder", report.ci_folder), ("Started", report.started_at)]
    rows = []
    for number, nb in enumerate(report.notebooks):
        links = [link(nb.run_page_url, "run page")]
        if number in exports:
            links.append(f'<a href="{esc(quote(exports[number]))}">Databricks export</a>')
        rows.append(
            f'<tr><td><a href="#nb-{number + 1}">{esc(nb.name)}</a></td><td>{status_badge(nb.result_state)}</td>'
            f"<td>{seconds(nb.duration_s)}</td><td><code>{esc(shorten(nb.exit_value))}</code></td>"
            f'<td>{esc(shorten(nb.error) if nb.result_state != "SUCCESS" else "")}</td>'
            f'<td>{" · ".join(part for part in links if part)}</td></tr>'
        )
    overall = "SUCCESS" if report.succeeded else overall_status(nb.result_state for nb in report.notebooks)
    return (
        f'<header class="summary"><h1>bricktasks ci {esc(report.name)} {status_badge(overall, element_id="status")}</h1>'
        + "<table class=\"facts\">" + "".join(f"<tr><th>{label}</th><td>{esc(value)}</td></tr>" for label, value in facts) + "</table>"
        + '<table class="notebooks"><thead><tr><th>Notebook</th><th>State</th><th>Duration</th>'
        + "<th>Exit value</th><th>Error</th><th>Links</th></tr></thead>"
        + f"<tbody>{''.join(rows)}</tbody></table>{_figures(report.notebooks)}</header>"
    )


def _detail(nb: NotebookRunReport, number: int, export: str | None) -> str:
    if nb.result:
        result = {**nb.result, "status": nb.result_state}
    else:  # a remote run: no cells, only what get-output says
        result = {"notebook_path": nb.notebook_path, "status": nb.result_state, "duration_s": nb.duration_s,
                  "exit_value": nb.exit_value, "error": nb.error, "error_trace": nb.error_trace, "cells": []}
    extra = []
    if nb.state_message and nb.result_state != "SUCCESS" and nb.state_message != result.get("error"):
        extra.append(esc(nb.state_message))
    extra.append(link(nb.run_page_url, "run page"))
    if export:  # a remote run's cells, outputs and plots are only there
        what = "" if nb.result else ": the cells, their outputs and plots"
        extra.append(f'<a href="{esc(quote(export))}">Databricks run export</a>' + what)
    elif not nb.result:
        extra.append("no cell detail for this run")
    extra_html = f'<p class="meta">{" · ".join(part for part in extra if part)}</p>' if any(extra) else ""
    return render_notebook(result, anchor=f"nb-{number}", title=nb.name, extra_html=extra_html)


def write_html_report(report: BuildReport, results_dir: Path, *, secrets: Iterable[str] = ()) -> Path:
    """`report.html` (summary, then each notebook in detail) and `<name>-run-export.html` per remote export."""
    secrets = _secrets(secrets)
    report = redact_report(report, secrets)
    exports = _export_names(report.notebooks)
    for number, name in exports.items():
        _atomic_write(results_dir / name, report.notebooks[number].export_html or "")
    body = _summary(report, exports) + "\n".join(
        _detail(nb, number + 1, exports.get(number)) for number, nb in enumerate(report.notebooks)
    )
    title = f"bricktasks ci {report.name}: {'SUCCESS' if report.succeeded else 'FAILED'}"
    return _atomic_write(results_dir / "report.html", redact(page(title, body), secrets))


def write_summary_json(report: BuildReport, results_dir: Path, *, secrets: Iterable[str] = ()) -> Path:
    """`summary.json`: the build and each notebook's outcome, without cells and images."""
    secrets = _secrets(secrets)
    report = redact_report(report, secrets)
    exports = _export_names(report.notebooks)
    data = {
        "version": 1,
        "build_id": report.build_id, "branch": report.branch, "commit": report.commit, "ci_folder": report.ci_folder,
        "backend": report.backend, "started_at": report.started_at, "succeeded": report.succeeded,
        "notebooks": [
            {**{field.name: getattr(nb, field.name) for field in dataclasses.fields(nb) if field.name not in _BULKY},
             "outcome": _outcome(nb.result_state), "failed_cell": nb.failed_cell, "export_file": exports.get(number)}
            for number, nb in enumerate(report.notebooks)
        ],
    }
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _atomic_write(results_dir / "summary.json", redact(text, secrets) + "\n")
