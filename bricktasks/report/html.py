"""report.html: the status, the task graph, each task's outcome and every figure first, then each
task's cells in detail; a remote task's Databricks export beside it as `<name>-run-export.html`.

Every text is escaped (task keys, notebook names and messages come from a pull request), links and
ids are made from the task's number, never its key, and the page has no script (its CSP forbids one).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from bricktasks.backends.notebook_html import esc, image_src, link, page, render_notebook, seconds, shorten, status_badge
from bricktasks.console.redaction import redact
from bricktasks.report.dag_svg import dag_svg
from bricktasks.report.files import atomic_write
from bricktasks.report.model import BuildReport, NotebookRunReport, not_run_reason
from bricktasks.report.quality_html import quality_section
from bricktasks.report.redaction import redact_report, secrets_of

__all__ = ["write_html_report", "export_names"]


def export_names(notebooks: list[NotebookRunReport]) -> dict[int, str]:
    """The export file of each remote task (by index): a safe file name made from its name."""
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


def _graph(notebooks: list[NotebookRunReport]) -> str:
    """The task graph, for a run with more than one task (one box tells nothing the table does not)."""
    if len(notebooks) < 2 and not any(nb.depends_on for nb in notebooks):
        return ""
    return f'<h2>Tasks</h2><div class="dag-graph">{dag_svg(notebooks)}</div>'


def _row(nb: NotebookRunReport, number: int, export: str | None, notebooks: list[NotebookRunReport], *, notebook: bool) -> str:
    links = [link(nb.run_page_url, "run page")]
    if export:
        links.append(f'<a href="{esc(quote(export))}">Databricks export</a>')
    problem = not_run_reason(nb, notebooks) or (shorten(nb.error) if nb.result_state != "SUCCESS" else "")
    return (
        f'<tr><td><a href="#nb-{number}">{esc(nb.key)}</a></td>' + (f"<td>{esc(nb.name)}</td>" if notebook else "")
        + f"<td>{status_badge(nb.result_state)}</td><td>{nb.attempts}</td><td>{seconds(nb.duration_s)}</td>"
        f"<td><code>{esc(shorten(nb.exit_value))}</code></td><td>{esc(problem)}</td>"
        f'<td>{" · ".join(part for part in links if part)}</td></tr>'
    )


def _summary(report: BuildReport, exports: dict[int, str]) -> str:
    facts = [("Build", report.build_id), ("Branch", report.branch), ("Commit", report.commit),
             ("Backend", report.backend), ("CI folder", report.ci_folder), ("Started", report.started_at)]
    notebook = any(nb.name != nb.key for nb in report.notebooks)  # a column of its own only when it tells something
    rows = [_row(nb, number + 1, exports.get(number), report.notebooks, notebook=notebook)
            for number, nb in enumerate(report.notebooks)]
    return (
        f'<header class="summary"><h1>bricktasks ci {esc(report.name)} {status_badge(report.overall_state, element_id="status")}</h1>'
        + "<table class=\"facts\">" + "".join(f"<tr><th>{label}</th><td>{esc(value)}</td></tr>" for label, value in facts) + "</table>"
        + _graph(report.notebooks)
        + '<table class="notebooks"><thead><tr><th>Task</th>' + ("<th>Notebook</th>" if notebook else "")
        + "<th>State</th><th>Attempts</th><th>Duration</th>"
        + "<th>Exit value</th><th>Error</th><th>Links</th></tr></thead>"
        + f"<tbody>{''.join(rows)}</tbody></table>{quality_section(report.quality)}{_figures(report.notebooks)}</header>"
    )


def _detail(nb: NotebookRunReport, number: int, export: str | None, notebooks: list[NotebookRunReport]) -> str:
    if nb.result:
        result = {**nb.result, "status": nb.result_state}
    else:  # a remote run (or a task that never ran): no cells, only what get-output says
        result = {"notebook_path": nb.notebook_path, "status": nb.result_state, "duration_s": nb.duration_s,
                  "exit_value": nb.exit_value, "error": nb.error, "error_trace": nb.error_trace, "cells": []}
    extra = []
    reason = not_run_reason(nb, notebooks)
    if reason:
        extra.append(esc(reason))
    elif nb.state_message and nb.result_state != "SUCCESS" and nb.state_message != result.get("error"):
        extra.append(esc(nb.state_message))
    if nb.depends_on:
        extra.append("depends on " + ", ".join(esc(key) for key in nb.depends_on))
    if nb.attempts > 1:
        extra.append(f"{nb.attempts} attempts")
    extra.append(link(nb.run_page_url, "run page"))
    if export:  # a remote run's cells, outputs and plots are only there
        what = "" if nb.result else ": the cells, their outputs and plots"
        extra.append(f'<a href="{esc(quote(export))}">Databricks run export</a>' + what)
    elif not nb.result and not reason:
        extra.append("no cell detail for this run")
    extra_html = f'<p class="meta">{" · ".join(part for part in extra if part)}</p>' if any(extra) else ""
    title = nb.key if nb.key == nb.name else f"{nb.key} ({nb.name})"
    return render_notebook(result, anchor=f"nb-{number}", title=title, extra_html=extra_html)


def write_html_report(report: BuildReport, results_dir: Path, *, secrets: Iterable[str] = ()) -> Path:
    """`report.html` (summary, graph, then each task in detail) and `<name>-run-export.html` per remote export."""
    secrets = secrets_of(secrets)
    report = redact_report(report, secrets)
    exports = export_names(report.notebooks)
    for number, name in exports.items():
        atomic_write(results_dir / name, report.notebooks[number].export_html or "")
    body = _summary(report, exports) + "\n".join(
        _detail(nb, number + 1, exports.get(number), report.notebooks) for number, nb in enumerate(report.notebooks)
    )
    title = f"bricktasks ci {report.name}: {report.overall_state}"
    return atomic_write(results_dir / "report.html", redact(page(title, body), secrets))
