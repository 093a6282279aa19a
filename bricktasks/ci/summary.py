"""What `invoke ci --json` reports about the build, read back from what `invoke ci` wrote.

The build manifest (in the CI folder) holds the run id and the run's result; `summary.json`
(in the results folder) holds each notebook's outcome and sits beside the JUnit and HTML
reports. A summary left over from another build is recognised by its start time and ignored.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Backend
from bricktasks.ci.manifest import read_build_manifest
from bricktasks.errors import BackendError

__all__ = ["ci_fields"]

NOTEBOOK_FIELDS = ("name", "result_state", "exit_value", "failed_cell", "error", "task_run_id")


def ci_fields(backend: Backend, ci_folder: str, results_dir: Path) -> dict[str, Any]:
    """run_id, result, run_page_url, notebooks and report paths of the build in `ci_folder`, as far as known."""
    try:
        manifest = read_build_manifest(backend, ci_folder) or {}
    except BackendError:
        manifest = {}  # the summary must not replace the error that ended the task
    fields: dict[str, Any] = {"run_id": manifest.get("run_id"), "result": manifest.get("result")}
    summary = _read_json(results_dir / "summary.json")
    if summary and summary.get("ci_folder") == ci_folder and manifest.get("created") and summary.get("started_at") == manifest.get("created"):
        notebooks = summary.get("notebooks") or []
        fields["run_page_url"] = next((nb.get("run_page_url") for nb in notebooks if nb.get("run_page_url")), None)
        fields["notebooks"] = [{key: nb.get(key) for key in NOTEBOOK_FIELDS} for nb in notebooks]
        fields["reports"] = {
            name: str(results_dir / file)
            for name, file in (("junit", "test-results.xml"), ("html", "report.html"), ("summary", "summary.json"))
            if (results_dir / file).exists()
        }
    return fields


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
