"""Polling, for `checkout --watch` where the system gives no file-system events (a network or
container mount, the watch limit reached) or when WATCHFILES_FORCE_POLLING asks for it.

Every POLL_MS the source folder is walked (no link followed, `.git` and caches not entered) and
each file's and folder's (modification time in ns, size, inode) compared with the walk before: a
path that appeared, disappeared or changed is an event, and the changes of one walk are one burst.
(Two rewrites of one file to the same size within one tick of the file system's clock, a few ms,
between two walks, are one change, as for make.) Our own walk rather than watchfiles' poller: on
this project's Linux machine that one missed one write in three of a file rewritten every 0.7 s
(watchfiles 1.3.0, force_polling=True).
"""
from __future__ import annotations

import os
import time
from collections.abc import Generator, Set
from pathlib import Path

from bricktasks.source.items import SKIPPED_DIRS

__all__ = ["POLL_MS", "poll_bursts", "snapshot", "differences"]

POLL_MS = 250
NOT_ENTERED = {".git", *SKIPPED_DIRS}
Stamp = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


def snapshot(root: Path) -> dict[str, Stamp]:
    """Every path below `root` (absolute, as a string) with its stamp; links are stamped, never followed."""
    found: dict[str, Stamp] = {}
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [name for name in dirnames if name not in NOT_ENTERED]
        for name in [*dirnames, *filenames]:
            path = os.path.join(current, name)
            try:
                stat = os.lstat(path)
            except OSError:
                continue  # gone since the listing: the next walk says so
            found[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return found


def differences(before: dict[str, Stamp], after: dict[str, Stamp]) -> set[tuple[str, str]]:
    """(kind, path) for each path added, deleted or modified between two snapshots."""
    changes = {("added", path) for path in after.keys() - before.keys()}
    changes |= {("deleted", path) for path in before.keys() - after.keys()}
    changes |= {("modified", path) for path in after.keys() & before.keys() if after[path] != before[path]}
    return changes


def poll_bursts(root: Path, *, poll_ms: int = POLL_MS) -> Generator[Set[tuple[object, str]], None, None]:
    """A burst (possibly empty) per walk of `root`, every `poll_ms` ms; the first right away."""
    previous = snapshot(root)
    yield set()
    while True:
        time.sleep(poll_ms / 1000)
        current = snapshot(root)
        yield differences(previous, current)
        previous = current
