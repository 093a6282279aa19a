"""Nothing lost on overwrite: the workspace's version of an object a sync writes over or prunes,
edited there since the last sync, is kept first in a local, gitignored folder.

`<project>/.bricktasks/overwritten/<target>/<UTC time>/<path>`, where `<target>` is the folder below
the workspace root (`BI-5613`, `master`, `CI/<build>`) and `<path>` the object's path below it, a
notebook with its language's extension, so the copy can be put back into the working copy as it is.
Names come from the workspace's listing: each part is checked, and nothing is written through a
symbolic link or outside the keep folder. `.bricktasks/` holds a `.gitignore` of its own (`*`, as
pytest and mypy do for their caches), so git never shows what is kept there, whatever the project's
own .gitignore says; pull's temporaries live there too (`state_folder`).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, ObjectInfo, ObjectType
from bricktasks.console.console import printable
from bricktasks.errors import UserInputError

__all__ = ["STATE_FOLDER", "KEEP_FOLDER", "Keeper", "state_folder"]

STATE_FOLDER = ".bricktasks"
KEEP_FOLDER = f"{STATE_FOLDER}/overwritten"
_IGNORE_ALL = b"# written by bricktasks: copies of overwritten edits and temporaries, never committed\n*\n"


def state_folder(project_root: Path, *parts: str) -> Path:
    """`<project>/.bricktasks/<parts>`, made (never through a symbolic link) with the `.gitignore`
    that keeps all of it out of git."""
    top = project_root / STATE_FOLDER
    _make_dirs(project_root, top)
    ignore = top / ".gitignore"
    if not ignore.is_file() and not ignore.is_symlink():
        ignore.write_bytes(_IGNORE_ALL)
    folder = top.joinpath(*parts)
    _make_dirs(project_root, folder)
    return folder


class Keeper:
    """Keeps copies for one sync into `target` (its path below the workspace root); the time folder
    is made on the first copy, so a sync that overwrites nobody's edit leaves nothing behind."""

    def __init__(self, project_root: Path, target: str, *, now: float | None = None) -> None:
        self.project_root = project_root
        self.target = target
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        self.base = project_root / KEEP_FOLDER / _safe_relative(target, what="target") / stamp
        self._made = False

    def keep(self, rel: str, info: ObjectInfo, content: bytes) -> str:
        """Write `content` (the workspace's `rel`) into the keep folder; return where, relative to the project."""
        name = rel + (NOTEBOOK_EXTENSIONS.get(info.language or "", "") if info.object_type is ObjectType.NOTEBOOK else "")
        relative = _safe_relative(name, what="workspace object")  # checked before anything is made
        path = self._folder() / relative
        try:
            _make_dirs(self.project_root, path.parent)
            return os.fspath(_write_new(path, content).relative_to(self.project_root))
        except OSError as exc:  # a name this file system cannot hold (over 255 bytes), a full disk
            raise UserInputError(f"cannot keep a copy of {printable(rel)} in {self.shown}: {exc.strerror}; it was not overwritten",
                                 "rename it in the workspace, free some space, or pass --force to overwrite without a copy") from None

    @classmethod
    def for_folder(cls, project_root: Path, workspace_root: str, folder: str) -> Keeper:
        """The keeper for a sync into `folder`, a folder below `workspace_root`."""
        return cls(project_root, folder[len(workspace_root):].strip("/") if folder.startswith(workspace_root + "/") else folder.strip("/"))

    @property
    def shown(self) -> str:
        return os.fspath(self.base.relative_to(self.project_root))

    def _folder(self) -> Path:
        if not self._made:
            state_folder(self.project_root)
            _make_dirs(self.project_root, self.base)
            self._made = True
        return self.base


def _safe_relative(rel: str, *, what: str) -> Path:
    parts = rel.split("/")
    if not rel or any(part in ("", ".", "..") or "\0" in part or "\\" in part for part in parts):
        raise UserInputError(f"the {what} name {rel!r} cannot be kept safely as a local file; nothing was overwritten",
                             "rename it in the workspace, or pass --force to overwrite without a copy")
    return Path(*parts)


def _make_dirs(root: Path, folder: Path) -> None:
    """mkdir -p of `folder` below `root`, refusing a symbolic link on the way (it could lead outside)."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise UserInputError(f"{current.relative_to(root)} is a symbolic link; copies of overwritten edits are "
                                 "never written through one", "remove it, or pass --force to keep no copy")
        current.mkdir(exist_ok=True)


def _write_new(path: Path, content: bytes) -> Path:
    """Write through a temporary in the same folder, then link it in: a kill leaves no half copy,
    and an existing file (two syncs in one second) is never replaced."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".keeping-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        candidate, number = path, 1
        while True:
            try:
                os.link(temporary, candidate)
                return candidate
            except FileExistsError:
                number += 1
                candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
    finally:
        os.unlink(temporary)
