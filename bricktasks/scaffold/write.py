"""Put the planned files into the target: never outside it, never through a link, never over a file
that differs unless forced (what was skipped is listed), and nothing at all when a file is in the way.
A second run with the same flags finds every file as it would write it and changes nothing."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.errors import UserInputError
from bricktasks.scaffold.contents import PlannedFile
from bricktasks.workspace.localwrite import new_file_mode
from bricktasks.workspace.overwritten import Keeper

__all__ = ["WriteResult", "Change", "plan_writes", "apply_writes"]


@dataclass(frozen=True)
class Change:
    path: str
    action: str  # "create" | "overwrite" | "append" | "unchanged" | "skip"
    content: bytes = b""  # what is written (for append: the whole new file)


@dataclass
class WriteResult:
    changes: list[Change] = field(default_factory=list)

    def of(self, action: str) -> list[str]:
        return [change.path for change in self.changes if change.action == action]

    @property
    def changed(self) -> bool:
        return any(change.action in ("create", "overwrite", "append") for change in self.changes)


def _destination(target: Path, relative: str) -> Path:
    """The file's path, refused when it or a folder on the way is a link or leaves the target."""
    path = target / relative
    for step in [*reversed(path.relative_to(target).parents[:-1]), path.relative_to(target)]:
        if (target / step).is_symlink():
            raise UserInputError(
                f"{step.as_posix()} is a symbolic link; nothing was written", "make it a real file or folder, or remove it"
            )
    if not path.resolve().is_relative_to(target):
        raise UserInputError(f"{relative} would be written outside {target}; nothing was written")
    if path.exists() and not path.is_file():
        raise UserInputError(f"{relative} exists and is not a file; nothing was written", "move it away and run init again")
    return path


def _appended(existing: bytes, wanted: bytes) -> bytes | None:
    """`existing` with the lines of `wanted` it lacks (comments only with a missing line), or None when none lacks."""
    present = {line.strip() for line in existing.decode("utf-8", errors="replace").splitlines()}
    missing = [line for line in wanted.decode().splitlines() if line.strip() and line.strip() not in present and not line.startswith("#")]
    if not missing:
        return None
    header = [line for line in wanted.decode().splitlines() if line.startswith("#")][:1]
    prefix = existing if not existing or existing.endswith(b"\n") else existing + b"\n"
    return prefix + ("\n".join(header + missing) + "\n").encode()


def plan_writes(target: Path, planned: list[PlannedFile], *, force: bool) -> WriteResult:
    """What writing `planned` into `target` does, decided for every file before any is written."""
    result = WriteResult()
    for item in planned:
        path = _destination(target, item.path)
        if not path.exists():
            result.changes.append(Change(item.path, "create", item.content))
            continue
        existing = path.read_bytes()
        if item.append_lines:
            appended = _appended(existing, item.content)
            result.changes.append(Change(item.path, "unchanged") if appended is None else Change(item.path, "append", appended))
        elif existing == item.content:
            result.changes.append(Change(item.path, "unchanged"))
        else:
            result.changes.append(Change(item.path, "overwrite", item.content) if force or item.edit else Change(item.path, "skip"))
    return result


def apply_writes(target: Path, result: WriteResult, keeper: Keeper) -> list[str]:
    """Write the changes, each file atomically (a temporary beside it, then a rename) in its old mode;
    a file written over (--force, --wire-notebooks) is kept first by `keeper`. Returns those files' paths."""
    kept = []
    for change in result.changes:
        if change.action not in ("create", "overwrite", "append"):
            continue
        path = _destination(target, change.path)  # again: nothing may have become a link meanwhile
        if change.action == "overwrite" and path.is_file():
            keeper.keep(change.path, ObjectInfo(change.path, ObjectType.FILE), path.read_bytes())
            kept.append(change.path)
        mode = path.stat().st_mode & 0o7777 if path.is_file() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bricktasks-init", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(change.content)
            os.chmod(temporary, mode if mode is not None else new_file_mode())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return kept
