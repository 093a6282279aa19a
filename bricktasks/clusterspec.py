"""The checked-in cluster spec of CI runs (the article's `cluster_info`), validated before anything runs.

    {"new_cluster": {...}}  or  {"existing_cluster_id": "..."}
    plus optional "libraries": [{"pypi": {"package": "..."}}, ...]

The compute becomes one `backends.base.Compute` value here (the only import from backends/: its
value types), carried as it is to runs/submit. The file may come from a pull request: anything odd in it (not an object, nested thousands
deep, NaN, a library of the wrong shape) is one ConfigError, never a traceback or a request (read by
bricktasks.jobdef.jsonfile, libraries checked by bricktasks.jobdef.libraries, as job definitions are).

The shorthand of a job definition: when the project has no jobs/ci.json, ci runs each of
BRICKTASKS_CI_NOTEBOOKS as a task on this cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Compute, compute_from_task_fields
from bricktasks.errors import ConfigError
from bricktasks.jobdef.jsonfile import MAX_DEPTH, read_json_file
from bricktasks.jobdef.libraries import library_problem

__all__ = ["ClusterSpec", "load_cluster_spec", "MAX_DEPTH"]

HINT = 'write {"new_cluster": {...}} or {"existing_cluster_id": "..."}, with optional "libraries": [...]'


@dataclass(frozen=True)
class ClusterSpec:
    """What cluster.json asks for: the run's compute (None only where a test leaves it out) and its libraries."""

    compute: Compute | None = None
    libraries: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_libraries(name: str, libraries: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(libraries, list):
        raise ConfigError(f"cluster spec {name}: libraries must be a list", HINT)
    for number, library in enumerate(libraries, start=1):
        problem = library_problem(library)
        if problem:
            raise ConfigError(f"cluster spec {name}: library {number}: {problem}", HINT)
    return tuple(libraries)


def load_cluster_spec(path: Path) -> ClusterSpec:
    name = path.name
    if not path.is_file():
        raise ConfigError(f"cluster spec {name} does not exist", f"create it or set BRICKTASKS_CLUSTER_SPEC; {HINT}")
    data = read_json_file(path, f"cluster spec {name}", HINT)
    if not isinstance(data, dict):
        raise ConfigError(f"cluster spec {name} must be a JSON object", HINT)
    unknown = set(data) - {"new_cluster", "existing_cluster_id", "libraries", "$comment"}
    if unknown:
        raise ConfigError(f"cluster spec {name} has unknown keys: {', '.join(sorted(unknown))}", HINT)
    chosen = [key for key in ("new_cluster", "existing_cluster_id") if data.get(key)]
    if len(chosen) != 1:
        raise ConfigError(f"cluster spec {name} must name exactly one of new_cluster, existing_cluster_id", HINT)
    new_cluster = data.get("new_cluster")
    if new_cluster is not None and (not isinstance(new_cluster, dict) or "spark_version" not in new_cluster):
        raise ConfigError(f"cluster spec {name}: new_cluster needs a spark_version", HINT)
    if new_cluster is not None and not _is_text(new_cluster["spark_version"]):
        raise ConfigError(f"cluster spec {name}: new_cluster.spark_version must be a non-empty string", HINT)
    libraries = _check_libraries(name, data.get("libraries", []))
    existing = data.get("existing_cluster_id")
    if existing is not None and not isinstance(existing, str):
        raise ConfigError(f"cluster spec {name}: existing_cluster_id must be a string", HINT)
    return ClusterSpec(compute=compute_from_task_fields(data), libraries=libraries)
