"""The checked-in cluster spec of CI runs (the article's `cluster_info`), validated before anything runs.

    {"new_cluster": {...}}  or  {"existing_cluster_id": "..."}
    plus optional "libraries": [{"pypi": {"package": "..."}}, ...]
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.errors import ConfigError

__all__ = ["ClusterSpec", "load_cluster_spec"]

LIBRARY_KINDS = {"whl", "egg", "jar", "pypi", "maven", "cran", "requirements"}


@dataclass(frozen=True)
class ClusterSpec:
    new_cluster: dict[str, Any] | None = None
    existing_cluster_id: str | None = None
    libraries: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def load_cluster_spec(path: Path) -> ClusterSpec:
    hint = 'write {"new_cluster": {...}} or {"existing_cluster_id": "..."}, with optional "libraries": [...]'
    if not path.is_file():
        raise ConfigError(f"cluster spec {path.name} does not exist", f"create it or set BRICKTASKS_CLUSTER_SPEC; {hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cluster spec {path.name} is not valid JSON ({exc})", hint) from None
    if not isinstance(data, dict):
        raise ConfigError(f"cluster spec {path.name} must be a JSON object", hint)
    unknown = set(data) - {"new_cluster", "existing_cluster_id", "libraries", "$comment"}
    if unknown:
        raise ConfigError(f"cluster spec {path.name} has unknown keys: {', '.join(sorted(unknown))}", hint)
    chosen = [key for key in ("new_cluster", "existing_cluster_id") if data.get(key)]
    if len(chosen) != 1:
        raise ConfigError(f"cluster spec {path.name} must name exactly one of new_cluster, existing_cluster_id", hint)
    new_cluster = data.get("new_cluster")
    if new_cluster is not None and (not isinstance(new_cluster, dict) or "spark_version" not in new_cluster):
        raise ConfigError(f"cluster spec {path.name}: new_cluster needs a spark_version", hint)
    libraries = data.get("libraries", [])
    if not isinstance(libraries, list) or any(
        not isinstance(lib, dict) or len(lib) != 1 or next(iter(lib)) not in LIBRARY_KINDS for lib in libraries
    ):
        raise ConfigError(f"cluster spec {path.name}: each library is one of {sorted(LIBRARY_KINDS)}", hint)
    existing = data.get("existing_cluster_id")
    if existing is not None and not isinstance(existing, str):
        raise ConfigError(f"cluster spec {path.name}: existing_cluster_id must be a string", hint)
    return ClusterSpec(new_cluster=new_cluster, existing_cluster_id=existing, libraries=tuple(libraries))
