"""What a burst of file-system events asks `checkout --watch` to do: pure functions and two small
clocks, no I/O (bricktasks.workspace.watch does the requests).

- A burst is what the watcher delivers at once: events until QUIET_MS pass with none, for at most
  BURST_MS (watchfiles' `step` and `debounce`), so an editor's save-as-rename or a `git checkout` of
  many files is one sync. `changed_paths` folds a burst into the relative paths it touched; the
  event kinds are not trusted (a rename is a delete and an add, an editor's save may be either):
  the disk is read again for each path.
- `to_reconsider`: which local files to read again — the paths touched, everything below a touched
  folder (a folder's rename is one event), and whatever entered or left git's selection (a
  .gitignore changed).
- `admit`: of the files read again, those the workspace may get — the same credential scan and the
  same name, size and collision rules as checkout; the others are refused with one line each.
- `objects_to_check`: the workspace paths a sync of those files may write over or delete, whose
  get-status the sync asks first (one round trip, all at once) to know, cheaply, whether they were
  edited in the workspace since the last sync.
- `Bookkeeping`: when the manifest is written (after a quiet second, or a minute of edits), so that
  it never delays an upload; `Backoff`: when a failed sync is tried again.
"""
from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS
from bricktasks.console.console import printable
from bricktasks.errors import UserInputError
from bricktasks.source.items import SourceItem, is_sent
from bricktasks.source.secrets_scan import HINT, scan_bytes
from bricktasks.workspace.sync import check_uploadable

__all__ = [
    "QUIET_MS", "BURST_MS", "EVERYTHING", "GITIGNORE", "changed_paths", "lies_under", "to_reconsider", "admit", "objects_to_check",
    "sync_line", "reselect_all",
    "Bookkeeping", "Backoff",
]

QUIET_MS = 50  # a burst ends when this long passes with no event (an editor's save-as-rename takes a few ms)
BURST_MS = 1600  # and lasts at most this long (a long `git checkout` becomes a few syncs, not one late one)
EVERYTHING = ""  # in changed_paths' answer: the source folder itself changed, look at every file
GITIGNORE = ".gitignore"
SHOWN_NAMES = 5  # names in a sync's line; the rest are counted


def changed_paths(events: Iterable[tuple[object, str]], root: str) -> set[str]:
    """The paths below `root` (posix, relative) that a burst of (kind, absolute path) events touched
    and that can change what is sent: sent files and folders, and .gitignore files (they change the
    selection). Hidden paths, caches and paths outside `root` cannot; `root` itself is EVERYTHING."""
    prefix = root.rstrip("/") + "/"
    found: set[str] = set()
    for _, path in events:
        path = path.replace("\\", "/")
        if path.rstrip("/") == root.rstrip("/"):
            found.add(EVERYTHING)
            continue
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix):].strip("/")
        if rel and (is_sent(rel) or posixpath.basename(rel) == GITIGNORE):
            found.add(rel)
    return found


def lies_under(rel: str, changed: Collection[str]) -> bool:
    """`rel` is one of the changed paths or lies below one."""
    while rel:
        if rel in changed:
            return True
        rel = posixpath.dirname(rel)
    return False


def reselect_all(changed: Collection[str], *, most: int = 200) -> bool:
    """Whether git's selection must be asked for the whole folder (the source folder itself or a
    .gitignore changed, or more paths than one command line should carry), not for `changed` alone."""
    return len(changed) > most or any(rel == EVERYTHING or posixpath.basename(rel) == GITIGNORE for rel in changed)


def to_reconsider(changed: set[str], before: Collection[str], selected: Collection[str]) -> set[str]:
    """The local files (relative paths) to read again: those of the last sync (`before`) or of git's
    selection now (`selected`) that a changed path names or holds, and every file that entered or
    left the selection."""
    before_set, selected_set = set(before), set(selected)
    found = before_set ^ selected_set
    if EVERYTHING in changed:
        return found | before_set | selected_set
    return found | {rel for rel in before_set | selected_set if lies_under(rel, changed)}


def admit(
    base: list[SourceItem], fresh: list[SourceItem], *, label: str, admitted_before: Mapping[str, str] | None = None,
) -> tuple[list[SourceItem], list[str]]:
    """(the items of `fresh` the workspace may get next to `base`, one line per item refused).

    Refused: a file that fails the credential scan (it is never uploaded), and one whose name, size
    or path the workspace cannot hold (check_uploadable). `base` (the files not read again) passed
    these checks before, with `admitted_before` (local -> workspace path): when every fresh item is
    one of those under the same workspace path, no new collision is possible and only the fresh
    items are checked (an edit of one file in 5,000 does not check 5,000). `label` names the
    source folder in the lines."""
    clean, refused = [], []
    for item in fresh:
        hit = scan_bytes(item.content, f"{label}/{item.local_rel}")
        if hit:
            refused.append(f"not uploaded {printable(hit.where)}: line {hit.line} looks like a {hit.kind}; {HINT}")
        else:
            clean.append(item)
    same_paths = admitted_before is not None and all(admitted_before.get(item.local_rel) == item.remote_rel for item in clean)
    try:
        check_uploadable(clean if same_paths else [*base, *clean], prefix=f"{label}/")
        return clean, refused
    except UserInputError:
        pass  # find which of them: one at a time (only on this rare path: each check reads every item)
    admitted: list[SourceItem] = []
    for item in clean:
        try:
            check_uploadable([*base, *admitted, item], prefix=f"{label}/")
        except UserInputError as exc:
            refused.append(f"not uploaded {label}/{printable(item.local_rel)}: {exc.one_line()}")
        else:
            admitted.append(item)
    return admitted, refused


def objects_to_check(local_rels: Iterable[str]) -> set[str]:
    """The workspace paths (relative) that syncing these local files may write over or delete: the
    object each becomes as a file (`a.py`) and as a notebook (`a`), whichever it is now or was."""
    found = set()
    for rel in local_rels:
        found.add(rel)
        stem, extension = posixpath.splitext(rel)
        if extension.lower() in NOTEBOOK_EXTENSIONS.values():
            found.add(stem)
    return found


def _names(names: list[str]) -> str:
    shown = ", ".join(printable(name) for name in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def sync_line(*, uploaded: list[str], deleted: list[str], replaced: list[str], seconds: float) -> str | None:
    """The one line a sync prints (None when it wrote nothing): `synced 2 in 0.21 s: uploaded a.py;
    deleted b.py`. Uploads are named by their local path, deletions by their workspace path."""
    parts = [f"{verb} {_names(sorted(names))}" for verb, names in
             (("uploaded", uploaded), ("deleted", deleted), ("replaced", replaced)) if names]
    if not parts:
        return None
    return f"synced {len(uploaded) + len(deleted)} in {seconds:.2f} s: " + "; ".join(parts)


@dataclass
class Bookkeeping:
    """When the manifest is written after uploads: once `quiet_s` pass with no sync, or `max_age_s`
    after the first unrecorded upload (the folder's claim must not look abandoned: other syncs take
    a claim older than 30 minutes for a dead one), and always at exit."""

    quiet_s: float = 1.0
    max_age_s: float = 60.0
    first: float | None = None  # when the oldest unrecorded write was made
    last: float | None = None

    def wrote(self, now: float) -> None:
        self.first = now if self.first is None else self.first
        self.last = now

    def due(self, now: float) -> bool:
        if self.first is None or self.last is None:
            return False
        return now - self.last >= self.quiet_s or now - self.first >= self.max_age_s

    def done(self) -> None:
        self.first = self.last = None


@dataclass
class Backoff:
    """When a sync that failed (the workspace unreachable, a rate limit outlasting the retries) is
    tried again: after 1, 2, 4 ... seconds, at most `delays[-1]`; a success starts over."""

    delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
    failures: int = 0
    retry_at: float = field(default=float("-inf"))

    def failed(self, now: float) -> float:
        delay = self.delays[min(self.failures, len(self.delays) - 1)]
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures, self.retry_at = 0, float("-inf")

    def due(self, now: float) -> bool:
        return now >= self.retry_at
