"""summary.md: the build as Markdown, for a CI system's summary page and a pull-request comment.

A result badge (text and emoji: no image service is called), the build, branch, commit and run links,
a table of the tasks, a table of the numbers each task exited with (its exit value when that is a JSON
object), the figures, a link to report.html, and an optional section another part of the report makes
(the comparison with master).

Two places read it, and they differ in what a link can reach (`Place`):
- "folder": `ci-results/summary.md`, next to report.html and the figure files written into
  `ci-results/figures/`: figures are images with relative paths, report.html a relative link. They show
  wherever the folder is (the CI system's artifact, a checkout, an editor's preview).
- "page": the CI system's own page (GitHub's step summary, a pull-request comment), which reaches no file
  of this machine and shows no `data:` image (GitHub strips them), so figures are named and the reader is
  sent to the build's artifact for them and for report.html.

Every text comes from a pull request (task keys, notebook names, messages, exit values), so it is escaped
for Markdown and HTML; secrets were taken out of the data before rendering (`write_markdown_summary`), and
out of the text once more.
"""
from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bricktasks.backends.notebook_html import seconds, shorten
from bricktasks.console.redaction import redact
from bricktasks.report.files import atomic_write
from bricktasks.report.html import export_names
from bricktasks.report.model import BuildReport, NotebookRunReport, not_run_reason
from bricktasks.report.quality_metrics import metrics_from_exit_value
from bricktasks.report.redaction import redact_report, secrets_of

__all__ = ["Figure", "MarkdownSummary", "Place", "figures_of", "render_markdown_summary",
           "task_metrics", "write_markdown_summary"]

Place = Literal["folder", "page"]

SUMMARY_FILE = "summary.md"
FIGURES_FOLDER = "figures"
_EXIT_VALUE_LIMIT = 80
_PROBLEM_LIMIT = 160
# raster images only: an SVG opened on its own runs its scripts; report.html shows those
_FIGURE_TYPES = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "gif": "gif", "webp": "webp"}
_FIGURE_NAME = re.compile(r"^\d+-[A-Za-z0-9._-]*-cell-\d+-\d+\.(png|jpg|gif|webp)$")
_BADGES = {"SUCCESS": "✅", "FAILED": "❌", "TIMEDOUT": "⏱️", "CANCELED": "🚫", "SKIPPED": "⏭️"}
# what can start emphasis, code, a link, an image, a cell end or strikethrough in running text
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")


@dataclass(frozen=True)
class Figure:
    """One image a task displayed: which task (1-based number, name), which cell, and its file."""

    number: int
    task: str
    cell: int
    file_name: str
    data: bytes


@dataclass(frozen=True)
class MarkdownSummary:
    """What `write_markdown_summary` made: the file, and the text for the CI system's page (redacted)."""

    path: Path
    page_text: str


def text(value: object) -> str:
    """A value as Markdown text on one line: HTML and Markdown punctuation escaped, so a task name cannot
    open a link, an image, a table cell or an HTML tag."""
    one_line = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def code(value: str) -> str:
    """A code span on one line that holds any text: a fence longer than any run of backticks in it."""
    one_line = " ".join(value.split()).replace("|", "\\|")  # a table cell ends at a bare pipe, even in code
    fence = "`" * (max((len(run) for run in re.findall(r"`+", one_line)), default=0) + 1)
    padding = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{padding}{one_line}{padding}{fence}" if one_line else ""


def _link(url: str | None, label: str) -> str:
    """Only http(s) URLs become links: a run page URL is data, not something to follow blindly."""
    if not url or not re.match(r"^https?://[^\s()<>]+$", url, re.IGNORECASE):
        return ""
    return f"[{text(label)}]({url})"


def _artifact(build_url: str | None) -> str:
    return "the `ci-results` artifact of " + (_link(build_url, "this build") or "this build")


def task_metrics(nb: NotebookRunReport) -> list[tuple[str, float]]:
    """The metrics of a task's exit value (a JSON object's numeric leaves, nested keys dotted), read
    and capped as the quality comparison reads them (report/quality_metrics), without the task prefix."""
    prefix = f"{nb.key}."
    return [(key.removeprefix(prefix), value) for key, value in metrics_from_exit_value(nb.key, nb.exit_value).values.items()]


def figures_of(report: BuildReport) -> list[Figure]:
    """Every raster image the tasks displayed, in order, each with a file name made from its task's number."""
    figures: list[Figure] = []
    for number, nb in enumerate(report.notebooks, 1):
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", nb.key).strip("._")[:40]
        for cell in (nb.result or {}).get("cells") or []:
            if not isinstance(cell, dict):
                continue
            given = cell.get("index")
            index = given if isinstance(given, int) and not isinstance(given, bool) else 0
            for output in cell.get("outputs") or []:
                if not isinstance(output, dict) or output.get("type") != "image":
                    continue
                extension = _FIGURE_TYPES.get(str(output.get("format") or "png").lower())
                try:
                    data = base64.b64decode(re.sub(r"\s+", "", str(output.get("data_base64") or "")), validate=True)
                except (binascii.Error, ValueError):
                    continue
                if extension and data:
                    count = sum(1 for figure in figures if figure.number == number and figure.cell == index) + 1
                    figures.append(Figure(number, nb.key, index, f"{number}-{stem}-cell-{index}-{count}.{extension}", data))
    return figures


def _number(value: float) -> str:
    # a whole number as itself (a count of rows is no 1.235e+05), anything else to 4 significant digits
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"


def _facts(report: BuildReport, run_url: str | None, build_url: str | None) -> str:
    facts = [f"build **{text(report.build_id)}**", f"branch **{text(report.branch)}**"]
    if report.commit:
        facts.append(f"commit {code(report.commit[:12])}")
    facts.append(f"{text(report.backend)} backend")
    links = [part for part in (_link(run_url, "run page"), _link(build_url, "CI build")) if part]
    return " · ".join(facts + links)


def _tasks_table(report: BuildReport) -> str:
    problems = {nb.key: not_run_reason(nb, report.notebooks) or (nb.error or nb.state_message if nb.result_state != "SUCCESS" else "")
                for nb in report.notebooks}
    with_problems = any(problems.values())
    head = "| Task | Result | Duration | Attempts | Exit value |" + (" Problem |" if with_problems else "")
    rows = [head, "|---|---|---:|---:|---|" + ("---|" if with_problems else "")]
    for nb in report.notebooks:
        badge = _BADGES.get(nb.result_state, "⚠️")
        row = (f"| {text(nb.key)} | {badge} {text(nb.result_state or 'UNKNOWN')} | {seconds(nb.duration_s)} | {nb.attempts} "
               f"| {code(shorten(nb.exit_value, _EXIT_VALUE_LIMIT))} |")
        if with_problems:
            row += f" {text(shorten(problems[nb.key] or '', _PROBLEM_LIMIT))} |"
        rows.append(row)
    return "\n".join(rows)


def _metrics_table(report: BuildReport) -> str:
    rows = [f"| {text(nb.key)} | {text(name)} | {_number(value)} |" for nb in report.notebooks for name, value in task_metrics(nb)]
    if not rows:
        return ""
    return "\n".join(["### Metrics", "", "| Task | Metric | Value |", "|---|---|---:|", *rows])


def _figures_section(report: BuildReport, figures: Sequence[Figure], place: Place, build_url: str | None) -> str:
    exports = export_names(report.notebooks)
    lines = []
    if figures and place == "folder":
        lines += [f"![{text(figure.task)} · cell {figure.cell}]({FIGURES_FOLDER}/{figure.file_name})" for figure in figures]
    elif figures:
        tasks = ", ".join(dict.fromkeys(text(figure.task) for figure in figures))
        lines.append(f"{len(figures)} figure{'s' if len(figures) > 1 else ''} ({tasks}): in report.html and "
                     f"`{FIGURES_FOLDER}/` of {_artifact(build_url)} (this page cannot show the build's files).")
    if exports:
        lines.append("The cells, outputs and plots of a Databricks run are in its run export: "
                     + ", ".join(code(name) for name in exports.values()) + ", beside report.html.")
    return "\n\n".join(["### Figures", *lines]) if lines else ""


def render_markdown_summary(
    report: BuildReport,
    *,
    place: Place,
    run_url: str | None = None,
    build_url: str | None = None,
    figures: Sequence[Figure] = (),
    quality_markdown: str | None = None,
) -> str:
    """The build as Markdown for `place` ("folder": next to report.html; "page": a CI system's page).
    `quality_markdown` is a section made elsewhere (the comparison with master), put in as it is."""
    state = report.overall_state
    title = f"## {_BADGES.get(state, '⚠️')} bricktasks ci {text(report.name)}: **{text(state)}**"
    report_link = ("[report.html](report.html) has every task's cells and outputs." if place == "folder" else
                   f"report.html (every task's cells and outputs) is in {_artifact(build_url)}.")
    sections = [title, _facts(report, run_url, build_url),
                _tasks_table(report) if report.notebooks else "_No task ran._",
                _metrics_table(report), (quality_markdown or "").strip(),
                _figures_section(report, figures, place, build_url), report_link]
    return "\n\n".join(section for section in sections if section) + "\n"


def _write_figures(results_dir: Path, figures: Sequence[Figure]) -> None:
    """The figure files, replacing a previous build's (only files named as ours are removed)."""
    folder = results_dir / FIGURES_FOLDER
    if folder.is_dir():
        for old in folder.iterdir():
            if old.is_file() and _FIGURE_NAME.match(old.name):
                old.unlink()
    if figures:
        folder.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        temp = folder / f".{figure.file_name}.tmp"
        temp.write_bytes(figure.data)
        temp.replace(folder / figure.file_name)


def write_markdown_summary(
    report: BuildReport,
    results_dir: Path,
    *,
    secrets: Iterable[str] = (),
    run_url: str | None = None,
    build_url: str | None = None,
    quality_markdown: str | None = None,
) -> MarkdownSummary:
    """`summary.md` and its figure files in `results_dir`; the page text (for a CI system) comes back with it."""
    secrets = secrets_of(secrets)
    report = redact_report(report, secrets)
    run_url, build_url = (redact(url, secrets) if url else None for url in (run_url, build_url))
    figures = figures_of(report)
    _write_figures(results_dir, figures)
    common: dict[str, Any] = {"run_url": run_url, "build_url": build_url, "quality_markdown": quality_markdown}
    folder_text = redact(render_markdown_summary(report, place="folder", figures=figures, **common), secrets)
    page_text = redact(render_markdown_summary(report, place="page", figures=figures, **common), secrets)
    return MarkdownSummary(atomic_write(results_dir / SUMMARY_FILE, folder_text), page_text)
