"""Where the local backend keeps each kind of path on disk, under its root folder.

    <root>/workspace/   workspace paths (a notebook is its source file with the language extension)
    <root>/dbfs/        dbfs:/x            (also /dbfs/x, as clusters see it)
    <root>/volumes/     /Volumes/c/s/v/x   (a catalog, schema and volume are its folders: local_catalog)
    <root>/unity-catalog/  what those folders cannot hold (ids, comments), per catalog, schema, volume
    <root>/runs/        run records
    <root>/jobs/        saved jobs (`<id>.json`)
    <root>/secrets/     secret scopes (owner-only; no workspace, DBFS or Volume path reaches it)
The notebook runtime uses the same mapping, so a run reads what the backend wrote.
"""
from __future__ import annotations

import contextlib
import fcntl
import posixpath
from collections.abc import Iterator
from pathlib import Path

from bricktasks.errors import InvalidRequest

__all__ = ["LocalPaths", "store_lock"]


@contextlib.contextmanager
def store_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of a record store (runs/, jobs/): flock on `<folder>/.lock`, across
    threads and processes, so every read-modify-write of a record is whole."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class LocalPaths:
    """Maps workspace, DBFS and Volume paths to files under one root, refusing escapes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.workspace = self.root / "workspace"
        self.dbfs = self.root / "dbfs"
        self.volumes = self.root / "volumes"
        self.runs = self.root / "runs"
        self.jobs = self.root / "jobs"
        self.secrets = self.root / "secrets"

    def ensure(self) -> None:
        for folder in (self.workspace, self.dbfs, self.volumes, self.runs, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)

    def workspace_path(self, path: str) -> Path:
        """`/Projects/x` (or `/Workspace/Projects/x`) -> <root>/workspace/Projects/x."""
        plain = _normal(path, "workspace")
        if plain == "/Workspace" or plain.startswith("/Workspace/"):
            plain = plain[len("/Workspace"):] or "/"
        return self._below(self.workspace, plain)

    def file_path(self, path: str) -> Path:
        """A dbfs:/, /dbfs/, /Volumes/ or workspace path -> its file on disk."""
        if path.startswith("dbfs:"):
            return self._below(self.dbfs, _normal(path[len("dbfs:"):] or "/", "DBFS"))
        if path == "/dbfs" or path.startswith("/dbfs/"):
            return self._below(self.dbfs, _normal(path[len("/dbfs"):] or "/", "DBFS"))
        if path.startswith("/Volumes/"):
            return self._below(self.volumes, _normal(path[len("/Volumes"):], "Volumes"))
        return self.workspace_path(path)

    @staticmethod
    def _below(base: Path, plain: str) -> Path:
        return base.joinpath(*[part for part in plain.split("/") if part])


def _normal(path: str, kind: str) -> str:
    if "\x00" in path:  # no file name can hold one; the OS call would fail with a ValueError
        raise InvalidRequest(f"{kind} path {path!r} contains a NUL byte", "remove it from the path")
    if not path.startswith("/"):
        raise InvalidRequest(f"{kind} path {path!r} is not absolute", "paths start with /")
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidRequest(f"{kind} path {path!r} has '.' or '..' parts", "use a normalised absolute path")
    return posixpath.normpath(path)
