"""The checked-in cluster spec of CI runs (the article's `cluster_info`), validated before anything runs.

    {"new_cluster": {...}}  or  {"existing_cluster_id": "..."}
    plus optional "libraries": [{"pypi": {"package": "..."}}, ...]

The compute becomes one `backends.base.Compute` value here (the only import from backends/: its
value types), carried as it is to runs/submit. The file may come from a pull request: anything odd in it (not an object, nested thousands
deep, NaN, a library of the wrong shape) is one ConfigError, never a traceback or a request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Compute, compute_from_task_fields
from bricktasks.errors import ConfigError

__all__ = ["ClusterSpec", "load_cluster_spec", "MAX_DEPTH"]

# the Jobs API's library kinds: a path for the first four, an object with these fields for the rest
PATH_LIBRARIES = ("whl", "egg", "jar", "requirements")
PACKAGE_LIBRARIES: dict[str, dict[str, type]] = {
    "pypi": {"package": str, "repo": str},
    "maven": {"coordinates": str, "repo": str, "exclusions": list},
    "cran": {"package": str, "repo": str},
}
REQUIRED_FIELD = {"pypi": "package", "maven": "coordinates", "cran": "package"}
LIBRARY_KINDS = {*PATH_LIBRARIES, *PACKAGE_LIBRARIES}
MAX_DEPTH = 20  # a real spec nests 5 deep (new_cluster.init_scripts[0].workspace.destination)
HINT = 'write {"new_cluster": {...}} or {"existing_cluster_id": "..."}, with optional "libraries": [...]'


@dataclass(frozen=True)
class ClusterSpec:
    """What cluster.json asks for: the run's compute (None only where a test leaves it out) and its libraries."""

    compute: Compute | None = None
    libraries: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")  # NaN and Infinity: json.loads accepts them, the API does not


def _depth(value: Any) -> int:
    """How deep `value` nests, counted without recursion (a value nested 10000 deep must not
    raise RecursionError here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:  # deeper is refused anyway: stop counting
                stack += [(child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _read(path: Path) -> Any:
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # the json module's C scanner recurses once per nesting level
        raise ConfigError(f"cluster spec {name} is nested too deeply (more than {MAX_DEPTH} levels)", HINT) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(f"cluster spec {name} is not valid JSON ({reason})", HINT) from None
    except OSError as exc:
        raise ConfigError(f"cluster spec {name} cannot be read ({exc.strerror})", HINT) from None
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(f"cluster spec {name} is nested too deeply (more than {MAX_DEPTH} levels)", HINT)
    return data


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _library_problem(library: Any) -> str | None:
    """What is wrong with one entry of "libraries", or None."""
    if not isinstance(library, dict) or len(library) != 1 or next(iter(library)) not in LIBRARY_KINDS:
        return f"each library is one of {sorted(LIBRARY_KINDS)}, as an object with that one key"
    kind, value = next(iter(library.items()))
    if kind in PATH_LIBRARIES:
        return None if _is_text(value) else f"{kind} must be a non-empty string (the library's path)"
    if not isinstance(value, dict):
        return f'{kind} must be an object, e.g. {{"{REQUIRED_FIELD[kind]}": "..."}}'
    fields = PACKAGE_LIBRARIES[kind]
    unknown = set(value) - set(fields)
    if unknown:
        return f"{kind} has unknown keys: {', '.join(sorted(map(str, unknown)))}"
    if not _is_text(value.get(REQUIRED_FIELD[kind])):
        return f"{kind}.{REQUIRED_FIELD[kind]} must be a non-empty string"
    for key, kind_of in fields.items():
        if key in value and kind_of is str and not _is_text(value[key]):
            return f"{kind}.{key} must be a non-empty string"
        if key in value and kind_of is list and not (isinstance(value[key], list) and all(_is_text(item) for item in value[key])):
            return f"{kind}.{key} must be a list of strings"
    return None


def _check_libraries(name: str, libraries: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(libraries, list):
        raise ConfigError(f"cluster spec {name}: libraries must be a list", HINT)
    for number, library in enumerate(libraries, start=1):
        problem = _library_problem(library)
        if problem:
            raise ConfigError(f"cluster spec {name}: library {number}: {problem}", HINT)
    return tuple(libraries)


def load_cluster_spec(path: Path) -> ClusterSpec:
    name = path.name
    if not path.is_file():
        raise ConfigError(f"cluster spec {name} does not exist", f"create it or set BRICKTASKS_CLUSTER_SPEC; {HINT}")
    data = _read(path)
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
