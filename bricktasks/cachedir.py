"""The user's cache folder for bricktasks, and whether a folder in it can be trusted.

What is kept there is remembered work, never a setting nor a credential: the workspace hosts'
metadata answers (backends/host_metadata) and the local Spark JVM's class archive
(runtime/spark_classes). Everything in it may be deleted at any time.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = ["user_cache_dir", "is_private_folder", "is_own_file"]


def user_cache_dir(environ: Mapping[str, str]) -> Path | None:
    """`$XDG_CACHE_HOME/bricktasks`, else `~/.cache/bricktasks`; None where there is no home."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: the XDG rule is to ignore it
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory can be determined
            return None
    return Path(base) / "bricktasks"


def is_private_folder(path: Path) -> bool:
    """A real folder (not a symlink) of this user that no one else may write into: what is read
    from it can only have come from this user."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def is_own_file(path: Path) -> bool:
    """A regular file (not a symlink) of this user: one a stranger cannot have planted or swapped."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())
