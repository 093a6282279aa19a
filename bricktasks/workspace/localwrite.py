"""Writing pull's results into the working copy: every file wholly old or wholly new, in its own
conventions, never through a symbolic link, and its old version kept first.

Each file is written to a temporary in `.bricktasks/pulling/` (gitignored by the folder's own
.gitignore, outside the source folder, so neither git nor checkout sees a killed pull's leftover)
and renamed over the file: one file system, the project's, so the rename is atomic. Just before it
writes over or deletes a file, it checks the file still has the SHA-256 the plan saw: a file saved
in an editor meanwhile is left alone.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import time
from pathlib import Path

from bricktasks.backends.base import ObjectInfo, ObjectType
from bricktasks.console.console import printable
from bricktasks.errors import UserInputError
from bricktasks.workspace.differences import in_local_conventions
from bricktasks.workspace.overwritten import Keeper, state_folder

__all__ = ["TEMPORARIES", "digest", "new_file_mode", "scratch_folder", "write_local", "delete_local"]

TEMPORARIES = "pulling"  # below .bricktasks/: where each file is written before it is renamed into place
STALE_TEMPORARY_S = 3600  # a temporary this old is a killed pull's (a running one renames its own within seconds)


def digest(path: Path) -> str | None:
    """The SHA-256 of the regular file at `path`; None when there is none (or a link)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def _safe_path(source_dir: Path, rel: str) -> Path:
    """`source_dir/rel`, refusing a symbolic link on the way (a link could lead outside the folder)."""
    current = source_dir
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            raise UserInputError(f"{printable(rel)} is not a safe local path; nothing was pulled", "rename it in the workspace")
        current = current / part
        if current.is_symlink():
            raise UserInputError(f"{printable(os.fspath(current.relative_to(source_dir)))} is a symbolic link; pull never "
                                 "writes through one", "replace the link by a file or folder")
    return current


def scratch_folder(project_root: Path) -> Path:
    """The folder of a pull's temporaries, with a killed pull's old ones removed."""
    folder = state_folder(project_root, TEMPORARIES)
    for stale in folder.iterdir():
        try:
            if time.time() - stale.lstat().st_mtime > STALE_TEMPORARY_S:
                stale.unlink()
        except OSError:
            pass  # another pull's, just renamed
    return folder


@functools.cache
def new_file_mode() -> int:
    """A new file's mode under the process's umask. Read once: setting the umask is the only portable
    way to read it, and the umask is process-wide, so a toggle per file would race other threads'
    file creation."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_local(source_dir: Path, rel: str, exported: bytes, expected: str | None, *, scratch: Path,
                keeper: Keeper) -> tuple[bytes | None, str | None]:
    """Write `exported` as the local file `rel` in the local file's conventions: (what was written,
    where its old version was kept). (None, None) when the file is no longer what the plan saw
    (`expected`: its SHA-256, None for absent)."""
    path = _safe_path(source_dir, rel)
    content = exported
    old = path.read_bytes() if path.is_file() else None
    if (hashlib.sha256(old).hexdigest() if old is not None else None) != expected:
        return None, None
    kept = None
    if old is not None:
        content = in_local_conventions(exported, old)
        if content == old:
            return content, None
        kept = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), old)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=scratch, prefix=".pulling-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, path.stat().st_mode & 0o7777 if old is not None else new_file_mode())
        os.replace(temporary, path)  # atomic: a kill leaves the old file or the new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return content, kept


def delete_local(source_dir: Path, rel: str, expected: str | None, *, keeper: Keeper) -> tuple[bool, str | None]:
    """Delete the local file `rel`, kept first: (whether it was deleted or already absent, where it
    was kept); False when it is no longer what the plan saw."""
    path = _safe_path(source_dir, rel)
    if digest(path) != expected:
        return False, None
    if not path.is_file():
        return True, None
    kept = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), path.read_bytes())
    path.unlink()
    return True, kept
