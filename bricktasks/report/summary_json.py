"""summary.json: the build and every task's outcome for tools, without cells and images."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bricktasks.console.redaction import redact
from bricktasks.report.files import atomic_write
from bricktasks.report.html import export_names
from bricktasks.report.model import BuildReport, NotebookRunReport, not_run_reason, outcome
from bricktasks.report.redaction import redact_report, secrets_of

__all__ = ["write_summary_json"]

_BULKY = ("result", "export_html")  # in report.html and the export file, not in summary.json


def _task(nb: NotebookRunReport, export: str | None, tasks: list[NotebookRunReport]) -> dict[str, Any]:
    fields = {field.name: getattr(nb, field.name) for field in dataclasses.fields(nb) if field.name not in _BULKY}
    return {
        **fields, "task_key": nb.key, "depends_on": list(nb.depends_on), "outcome": outcome(nb.result_state),
        "failed_cell": nb.failed_cell, "not_run_reason": not_run_reason(nb, tasks), "export_file": export,
    }


def write_summary_json(report: BuildReport, results_dir: Path, *, secrets: Iterable[str] = ()) -> Path:
    """`summary.json`: the build and each task's outcome (`notebooks`, one entry per task, in run order)."""
    secrets = secrets_of(secrets)
    report = redact_report(report, secrets)
    exports = export_names(report.notebooks)
    data = {
        "version": 1,
        "build_id": report.build_id, "branch": report.branch, "commit": report.commit, "ci_folder": report.ci_folder,
        "backend": report.backend, "started_at": report.started_at, "succeeded": report.succeeded,
        "notebooks": [_task(nb, exports.get(number), report.notebooks) for number, nb in enumerate(report.notebooks)],
    }
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return atomic_write(results_dir / "summary.json", redact(text, secrets) + "\n")
