"""Which workspace changes `invoke pull` can bring into the working copy, and why not the others.

A workspace object is not pulled (pull warns why) when its local file could not be sent back as
the same object or would hurt the working copy: not a notebook or file; a name that is unsafe
(`..`, NUL, `\\`), invisible (control, bidi or zero-width characters, a part starting or ending with
whitespace), longer than a local name may be (255 bytes), hidden, a cache, or ignored by git; a
local file or folder in the way (a file checkout does not send, a file where a folder goes); two
workspace objects that become one local file (notebook `a` and file `a.py`); more than the 10 MB
checkout could send back. (A workspace file holding a notebook's source is refused once exported:
see pull.apply_pull.) `:` and other printable characters Linux holds are pulled as they are.
"""
from __future__ import annotations

import os
import subprocess
import unicodedata
from collections import defaultdict
from pathlib import Path

from bricktasks.backends.base import MAX_IMPORT_BYTES, ObjectInfo, ObjectType
from bricktasks.console.console import printable
from bricktasks.source.items import is_sent
from bricktasks.workspace.differences import Difference
from bricktasks.workspace.status import local_name
from bricktasks.workspace.sync import MAX_NAME_BYTES

__all__ = ["unpullable", "local_path", "too_large", "kind_of"]

GIT_TIMEOUT_S = 60


def local_path(difference: Difference) -> str:
    """The local file (below the source folder) a difference is about."""
    return difference.local_rel if difference.local_rel is not None else local_name(difference.rel, difference.remote)


def unpullable(source_dir: Path, moving: list[Difference]) -> dict[str, str]:
    """Why each of these workspace changes cannot be pulled, by workspace path (those that can are absent)."""
    why: dict[str, str] = {}
    by_name: defaultdict[str, list[Difference]] = defaultdict(list)
    for difference in moving:
        by_name[local_path(difference)].append(difference)
    for name, sharing in by_name.items():
        if len(sharing) > 1:  # notebook `a` and file `a.py`: one would overwrite the other
            both = " and ".join(f"{kind_of(d.remote)} {printable(d.rel)}" for d in sharing)
            for difference in sharing:
                why[difference.rel] = f"the workspace's {both} would both be the local file {printable(name)}"
    new = [d for d in moving if d.rel not in why and d.local_rel is None and d.remote is not None]
    for difference in new:
        assert difference.remote is not None
        problem = _name_problem(source_dir, local_name(difference.rel, difference.remote), difference.remote)
        if problem:
            why[difference.rel] = problem
    ignored = _ignored_by_git(source_dir, [local_path(d) for d in new if d.rel not in why])
    for difference in new:
        if difference.rel not in why and local_path(difference) in ignored:
            why[difference.rel] = "git ignores its name, so checkout would not send it back"
    for difference in moving:
        info = difference.remote
        if difference.rel not in why and info is not None and info.object_type is ObjectType.FILE and (info.size or 0) > MAX_IMPORT_BYTES:
            why[difference.rel] = too_large(info.size or 0)
    return why


def _name_problem(source_dir: Path, name: str, info: ObjectInfo) -> str | None:
    """Why a workspace-only object cannot become the local file `name`, or None."""
    if info.object_type not in (ObjectType.NOTEBOOK, ObjectType.FILE):
        return "not a notebook or file"
    parts = name.split("/")
    if any(part in ("", ".", "..") or "\0" in part or "\\" in part for part in parts):
        return "its name is not a safe local path"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        return "its name holds control or invisible characters; rename it in the workspace"
    if any(part != part.strip() for part in parts):
        return "a part of its name starts or ends with whitespace; rename it in the workspace"
    try:
        if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
            return f"a part of its local name is longer than {MAX_NAME_BYTES} bytes; rename it in the workspace"
    except UnicodeEncodeError:
        return "its name is not valid Unicode"
    if not is_sent(name):
        return "checkout would not send it back (a hidden name or a cache)"
    for depth in range(1, len(parts)):
        folder = source_dir.joinpath(*parts[:depth])
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return f"{printable('/'.join(parts[:depth]))} is a local file (or link), where its folder would go"
    path = source_dir / name
    if path.exists() or path.is_symlink():
        return "a local file or folder of that name is in the way (one checkout does not send)"
    return None


def _ignored_by_git(source_dir: Path, names: list[str]) -> set[str]:
    """Which of these paths (below `source_dir`) git ignores; none outside a git work tree."""
    if not names:
        return set()
    try:
        result = subprocess.run(["git", "check-ignore", "-z", "--stdin"], cwd=source_dir, input=b"".join(
            os.fsencode(name) + b"\0" for name in names), capture_output=True, check=False, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode not in (0, 1):
        return set()  # not a work tree: the walk of the selection honours .gitignore files, and git is not here to ask
    return {os.fsdecode(raw) for raw in result.stdout.split(b"\0") if raw}


def kind_of(info: ObjectInfo | None) -> str:
    return "notebook" if info is not None and info.object_type is ObjectType.NOTEBOOK else "file"


def too_large(size: int) -> str:
    return (f"it is {size / 2**20:.1f} MB: checkout sends at most {MAX_IMPORT_BYTES // 2**20} MB per file; "
            "keep large data in a Volume or DBFS")
