"""A build's metrics: numbers named by dotted keys (`ModelTraining.mae_ratio`), read safely.

They come from each task's exit value (a JSON object: its numeric leaves, nested objects joined
with dots) and from the MLflow runs the exit values name (`<task>.mlflow.<metric>`), and they are
kept in the build manifest. Everything here is capped: an exit value or a manifest comes from a
pull request, so a huge object, NaN or infinity, text where a number belongs or a million keys is
cut down to what a report can show, and what was dropped is counted in a note, never trusted.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_METRICS", "MAX_KEY_LENGTH", "MAX_EXIT_VALUE_CHARS", "MLFLOW_RUN_ID_KEY", "Metrics",
    "metrics_from_exit_value", "mlflow_run_id", "clean_metrics", "merge_metrics", "as_json",
]

MAX_METRICS = 200  # per build: more than a report can show, far fewer than a hostile object holds
MAX_KEY_LENGTH = 120
MAX_EXIT_VALUE_CHARS = 1_000_000  # an exit value longer than this is not parsed at all
MAX_DEPTH = 6
MLFLOW_RUN_ID_KEY = "mlflow_run_id"
# what an MLflow run id looks like (32 hex digits in MLflow; a little wider for other stores),
# checked before the id is used in a path or a request
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY = re.compile(r"^[\w.:/ -]+$")


@dataclass(frozen=True)
class Metrics:
    """Clean metrics (finite floats by key, at most MAX_METRICS) and notes on what was dropped."""

    values: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _number(value: object) -> float | None:
    """A finite float, or None for anything else (bool is not a number here: True is no metric)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _leaves(value: object, prefix: str, depth: int, out: dict[str, object]) -> None:
    """Every leaf of a JSON object under dotted keys, up to MAX_DEPTH levels and a bounded count."""
    if len(out) > MAX_METRICS * 10:  # enough to count as "too many"; no need to walk the rest
        return
    if isinstance(value, dict) and depth < MAX_DEPTH:
        for key, inner in value.items():
            _leaves(inner, f"{prefix}.{key}", depth + 1, out)
    else:
        out[prefix] = value


def metrics_from_exit_value(task_key: str, exit_value: str | None) -> Metrics:
    """The numeric leaves of a task's exit value, `<task_key>.<key>`; nothing for an exit value that
    is not a JSON object (plain text is a fine exit value, it just holds no metrics)."""
    if not exit_value:
        return Metrics()
    if len(exit_value) > MAX_EXIT_VALUE_CHARS:
        return Metrics(notes=(f"{task_key}: exit value longer than {MAX_EXIT_VALUE_CHARS} characters, not read for metrics",))
    try:
        parsed = json.loads(exit_value)
    except (ValueError, RecursionError):
        return Metrics()
    if not isinstance(parsed, dict):
        return Metrics()
    leaves: dict[str, object] = {}
    _leaves(parsed, task_key, 0, leaves)
    numeric = {key: value for key, value in leaves.items() if not isinstance(value, (str, type(None), bool, list, dict))}
    return clean_metrics(numeric, source=f"{task_key}'s exit value")


def mlflow_run_id(exit_value: str | None) -> str | None:
    """The MLflow run an exit value names (`{"mlflow_run_id": "..."}`), if it looks like a run id."""
    if not exit_value or len(exit_value) > MAX_EXIT_VALUE_CHARS:
        return None
    try:
        parsed = json.loads(exit_value)
    except (ValueError, RecursionError):
        return None
    run_id = parsed.get(MLFLOW_RUN_ID_KEY) if isinstance(parsed, dict) else None
    return run_id if isinstance(run_id, str) and _RUN_ID.match(run_id) else None


def clean_metrics(raw: object, *, source: str = "metrics") -> Metrics:
    """`raw` (a manifest's `metrics` field, an exit value's leaves) as clean metrics: keys that are
    short printable names, values finite numbers, at most MAX_METRICS (the first by name). A field
    that is not an object is not trusted at all; the notes say what was dropped and why."""
    if raw is None:
        return Metrics()
    if not isinstance(raw, Mapping):
        return Metrics(notes=(f"{source} is not a JSON object: ignored",))
    values: dict[str, float] = {}
    bad_keys = not_numbers = 0
    for key, value in raw.items():
        if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
            bad_keys += 1
            continue
        number = _number(value)
        if number is None:
            not_numbers += 1
            continue
        values[key] = number
    notes = []
    if bad_keys:
        notes.append(f"{source}: {bad_keys} metric names ignored (not short printable names)")
    if not_numbers:
        notes.append(f"{source}: {not_numbers} values ignored (not finite numbers)")
    if len(values) > MAX_METRICS:
        notes.append(f"{source}: {len(values)} metrics, only the first {MAX_METRICS} by name kept")
        values = {key: values[key] for key in sorted(values)[:MAX_METRICS]}
    return Metrics(values, tuple(notes))


def merge_metrics(parts: list[Metrics]) -> Metrics:
    """Several sources' metrics as one build's, capped again (each part is capped on its own)."""
    values: dict[str, float] = {}
    notes: list[str] = []
    for part in parts:
        values.update(part.values)
        notes.extend(part.notes)
    merged = clean_metrics(values, source="this build's metrics")
    return Metrics(merged.values, (*notes, *merged.notes))


def as_json(metrics: Metrics) -> dict[str, Any]:
    """The manifest's `metrics` field."""
    return dict(sorted(metrics.values.items()))
