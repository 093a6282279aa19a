"""Map Databricks paths to files under the local root.

    dbfs:/x/y, /dbfs/x/y        <root>/dbfs/x/y
    /Volumes/c/s/v/x            <root>/volumes/c/s/v/x
    /Projects/x (workspace)     <root>/workspace/Projects/x (a notebook is <path>.py)
    /Workspace/Projects/x       the same workspace file

The layout is the local backend's (bricktasks.backends.local_paths); it is repeated here
so the runtime depends on nothing above it. Paths with '.' or '..' parts are refused
rather than resolved, so nothing a notebook names can land outside the root.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from bricktasks.runtime.errors import RuntimePathError

__all__ = [
    "to_local_path",
    "workspace_file",
    "normal_workspace_path",
    "resolve_notebook_path",
]


def to_local_path(local_root: Path, path: str) -> Path:
    """The local file behind a `dbfs:/`, `/dbfs/` or `/Volumes/` path."""
    if path.startswith("dbfs:"):
        return _below(local_root / "dbfs", path[len("dbfs:"):] or "/", path)
    if path == "/dbfs" or path.startswith("/dbfs/"):
        return _below(local_root / "dbfs", path[len("/dbfs"):] or "/", path)
    if path.startswith("/Volumes/"):
        return _below(local_root / "volumes", path[len("/Volumes"):], path)
    raise RuntimePathError(
        f"{path!r} is not a DBFS or Volumes path",
        "use dbfs:/..., /dbfs/... or /Volumes/<catalog>/<schema>/<volume>/...",
    )


def normal_workspace_path(path: str) -> str:
    """`/Workspace/Projects/x/` -> `/Projects/x`: the form workspace paths are compared in."""
    if not path.startswith("/"):
        raise RuntimePathError(f"workspace path {path!r} is not absolute", "workspace paths start with /")
    _check_parts(path, path)
    plain = posixpath.normpath(path)
    if plain == "/Workspace" or plain.startswith("/Workspace/"):
        plain = plain[len("/Workspace"):] or "/"
    return plain


def workspace_file(local_root: Path, path: str) -> Path:
    """The local file of a workspace path, as stored (a notebook without its `.py`)."""
    return _below(local_root / "workspace", normal_workspace_path(path), path)


def resolve_notebook_path(current: str, target: str) -> str:
    """Where `%run target` or `notebook.run(target)` points from the notebook at `current`.

    Absolute targets stand alone; `./x`, `../x` and bare names are relative to the
    folder of the notebook that contains the command, as on Databricks.
    """
    target = target.strip()
    if len(target) >= 2 and target[0] == target[-1] and target[0] in "'\"":
        target = target[1:-1]
    if not target:
        raise RuntimePathError("empty notebook path", "give a path such as ./set_environment")
    if target.startswith("/"):
        joined = target
    else:
        joined = posixpath.join(posixpath.dirname(normal_workspace_path(current)), target)
    resolved = posixpath.normpath(joined)
    if resolved.startswith("//"):
        resolved = resolved[1:]
    if resolved == "/":
        raise RuntimePathError(f"{target!r} from {current} names the workspace root", "name a notebook")
    return normal_workspace_path(resolved)


def _below(base: Path, plain: str, original: str) -> Path:
    if not plain.startswith("/"):
        raise RuntimePathError(f"{original!r} is not absolute", "paths start with / after the scheme")
    _check_parts(plain, original)
    return base.joinpath(*[part for part in plain.split("/") if part])


def _check_parts(plain: str, original: str) -> None:
    if any(part in (".", "..") for part in plain.split("/")):
        raise RuntimePathError(f"{original!r} has '.' or '..' parts", "use a normalised absolute path")
