"""An MLflow run's logged metrics, read from the local root's file store (`<root>/mlflow`).

Local runs log there (the runtime sets `MLFLOW_TRACKING_URI`, see bricktasks/runtime/tracking.py;
the folder name is kept twice on purpose: importing the runtime would load it into every task).
The store is read as files, without MLflow: `<experiment id>/<run id>/metrics/<key>` holds one
`timestamp value step` line per logged value, and the latest (highest step, then time) is the
metric's value, as MLflow's own `get_run` answers.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

__all__ = ["TRACKING_FOLDER", "file_store_metrics"]

TRACKING_FOLDER = "mlflow"
MAX_METRIC_FILES = 500
MAX_METRIC_FILE_BYTES = 1_000_000
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # checked before the id becomes part of a path


def file_store_metrics(local_root: Path, mlflow_run_id: str) -> dict[str, float] | None:
    """The run's metrics, or None when the id is no run id or the store has no such run."""
    if not _RUN_ID.match(mlflow_run_id):
        return None
    store = local_root / TRACKING_FOLDER
    if not store.is_dir():
        return None
    folders = [found for found in store.glob(f"*/{mlflow_run_id}/metrics") if found.is_dir() and not found.is_symlink()]
    if len(folders) != 1:
        return None
    metrics: dict[str, float] = {}
    for count, path in enumerate(sorted(folders[0].rglob("*"))):
        if count >= MAX_METRIC_FILES:
            break
        if path.is_symlink() or not path.is_file():
            continue
        value = _latest(path)
        if value is not None:
            metrics[path.relative_to(folders[0]).as_posix()] = value
    return metrics


def _latest(path: Path) -> float | None:
    """The value of the line with the highest (step, timestamp); None for an unreadable file."""
    try:
        if path.stat().st_size > MAX_METRIC_FILE_BYTES:
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    best: tuple[int, int, float] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            timestamp, value = int(parts[0]), float(parts[1])
            step = int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            continue
        if math.isfinite(value) and (best is None or (step, timestamp) >= best[:2]):
            best = (step, timestamp, value)
    return best[2] if best else None
