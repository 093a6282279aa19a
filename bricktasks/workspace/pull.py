"""`invoke pull`: bring edits made in a branch's workspace folder into the working copy.

What moves is decided by differences.py (the sync manifest as the common ancestor):
- edited in the workspace, unchanged here (` M`): exported as source and written over the local file;
- made in the workspace (` A`): written as a new file (a notebook with its language's extension);
- deleted in the workspace (` D`): the local file is deleted;
- changed on both sides, or on both sides with no record (`MM`, `MD`, `DM`, `??`): a conflict, refused
  (exit 2, naming them) unless `theirs` (the workspace's version wins) or `ours` (the working copy's
  wins: nothing is written here, and the next checkout sends it);
- changed only here: left alone. The helper notebooks are never pulled (checkout writes them).
A conflict whose two sides hold the same text is none: it is only recorded.

What cannot be pulled, and why, is pullable.py's to decide; how a file is written, localwrite.py's.

Each export is written as it arrives, through a temporary in `.bricktasks/pulling/` (gitignored by
its own .gitignore, hidden from checkout) renamed over the file, so a killed pull leaves every file
old or new and nothing git or checkout sees; a pull run again after a kill finds the files already
pulled equal on both sides and only records them. It keeps the file's line endings (CRLF stays CRLF)
and byte-order mark, re-reads each local file just before writing over it (one changed since the plan
is left alone), and keeps every local file it overwrites or deletes first (overwritten.Keeper,
`working-copy/<branch>`). Nothing is written through a symbolic link or outside the source folder.
Then the folder's manifest records the pulled state, so the next checkout sends nothing for those files.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.base import MAX_IMPORT_BYTES, Backend, ObjectInfo, notebook_language
from bricktasks.console.console import Console, printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS
from bricktasks.source.items import SourceItem
from bricktasks.workspace.differences import ADDED, DELETED, MODIFIED, SAME, Difference, differences, holds_the_same
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.localwrite import delete_local, digest, scratch_folder, write_local
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.pullable import kind_of, local_path, too_large, unpullable
from bricktasks.workspace.sync import LIST_WORKERS, MANIFEST_NAME, MANIFEST_VERSION, Destination, read_manifest_record, survey

__all__ = ["PullPlan", "PullResult", "plan_pull", "apply_pull", "describe_pull", "THEIRS", "OURS"]

THEIRS, OURS = "theirs", "ours"


@dataclass(frozen=True)
class PullPlan:
    target: str
    writes: tuple[Difference, ...]  # workspace -> working copy (new or overwritten local files)
    deletes: tuple[Difference, ...]  # local files whose workspace object was deleted
    conflicts: tuple[Difference, ...]  # changed on both sides, before --theirs / --ours
    ours: tuple[Difference, ...]  # conflicts the working copy wins (--ours): recorded as the workspace holds them, not written
    resolve: str | None  # None, THEIRS or OURS
    skipped: tuple[tuple[Difference, str], ...]  # (difference, why) not pulled
    destination: Destination = field(repr=False)
    same: tuple[Difference, ...] = ()  # on both sides with no record, or changed on both, to the same text: only recorded
    local_digests: Mapping[str, str | None] = field(default_factory=dict, repr=False)  # local path -> its SHA-256 at plan
    # time (None: absent); a file that no longer has it when the pull reaches it changed meanwhile and is left alone

    @property
    def refused(self) -> bool:
        """Conflicts and no --theirs / --ours: nothing is pulled."""
        return bool(self.conflicts) and self.resolve is None

    @property
    def empty(self) -> bool:
        return not (self.writes or self.deletes or self.ours or self.same)


@dataclass
class PullResult:
    written: list[str] = field(default_factory=list)  # local paths (below the source folder)
    deleted: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # local path -> where its old version was kept
    recorded: bool = False  # the manifest now records the pulled state
    left: list[str] = field(default_factory=list)  # local paths not pulled after all (changed meanwhile, too large)


def plan_pull(backend: Backend, source_dir: Path, target: str, *, env: str | None, libraries: list[str] | None,
              resolve: str | None, destination: Destination | None = None,
              source: list[SourceItem] | None = None) -> PullPlan:
    """Decide what to pull from `target`; `resolve` is None, THEIRS or OURS for the conflicts; `source`:
    the working copy as collected already (check_source's answer), else read here."""
    destination = destination or survey(backend, target)
    if not destination.exists:
        raise UserInputError(f"{target} does not exist (or is not a folder)", "run invoke checkout first")
    if not destination.manifest:
        raise UserInputError(f"{target} has no sync record, so nothing tells which side changed what",
                             "run invoke status to compare, then invoke checkout to record the folder's state")
    items = desired_items(source_dir, env=env, libraries=libraries, source=source)
    by_rel = {item.remote_rel: item for item in items}
    moving = [difference for difference in differences(items, destination.objects, destination.manifest)
              if difference.rel not in HELPER_NOTEBOOKS and difference.workspace != SAME]  # changed here only: checkout sends it
    same = _same_content(backend, target, [(d, by_rel[d.rel]) for d in moving
                                           if d.conflict and d.local_rel is not None and d.remote is not None])
    skipped = unpullable(source_dir, [d for d in moving if d.rel not in same])
    writes: list[Difference] = []
    deletes: list[Difference] = []
    conflicts: list[Difference] = []
    ours: list[Difference] = []
    for difference in moving:
        if difference.rel in same or difference.rel in skipped:
            continue
        if difference.conflict:
            conflicts.append(difference)
            if resolve == OURS:
                ours.append(difference)
            elif resolve == THEIRS:
                (deletes if difference.workspace == DELETED else writes).append(difference)
        elif difference.workspace in (MODIFIED, ADDED):
            writes.append(difference)
        elif difference.workspace == DELETED:
            deletes.append(difference)
    digests = {local_path(d): digest(source_dir / local_path(d)) for d in [*writes, *deletes]}
    return PullPlan(target, tuple(writes), tuple(deletes), tuple(conflicts), tuple(ours), resolve,
                    tuple((d, skipped[d.rel]) for d in moving if d.rel in skipped), destination,
                    same=tuple(d for d in moving if d.rel in same), local_digests=digests)


def _same_content(backend: Backend, target: str, pairs: list[tuple[Difference, SourceItem]]) -> set[str]:
    """Of the objects changed on both sides (or on both with no record), those whose workspace text is the local one."""
    def same(pair: tuple[Difference, SourceItem]) -> bool:
        content = _export_path(backend, f"{target}/{pair[0].rel}")
        return content is not None and holds_the_same(content, pair[1].content)

    with ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
        return {pair[0].rel for pair, equal in zip(pairs, pool.map(same, pairs), strict=True) if equal}


def describe_pull(plan: PullPlan, *, prefix: str = "") -> list[str]:
    """The plan, one line per file: what a pull would write, delete, or refuses."""
    lines = [f"would pull   {printable(prefix + local_path(d))}" for d in plan.writes if d not in plan.conflicts]
    lines += [f"would delete {printable(prefix + local_path(d))} (deleted in the workspace)"
              for d in plan.deletes if d not in plan.conflicts]
    for difference in plan.conflicts:
        taken = {THEIRS: "the workspace's version wins", OURS: "the working copy's version wins"}.get(plan.resolve or "", "refused")
        lines.append(f"conflict {printable(prefix + local_path(difference))} ({difference.code}: {taken})")
    return lines


# ---- apply ----------------------------------------------------------------------------------------


def apply_pull(backend: Backend, source_dir: Path, plan: PullPlan, *, keeper: Keeper, console: Console, prefix: str = "",
               workers: int = LIST_WORKERS) -> PullResult:
    """Write, delete and record what plan_pull decided. Refuses unresolved conflicts first. `prefix`
    (the source folder) makes the printed paths paths from the project root. Each export is written
    as soon as it arrives (the writes themselves one at a time, in this thread)."""
    if plan.refused:
        raise UserInputError(
            f"changed on both sides: {', '.join(printable(prefix + local_path(d)) for d in plan.conflicts)}; nothing was pulled",
            "pass --theirs to take the workspace's version, or --ours to keep the working copy's",
        )
    result = PullResult()
    entries: dict[str, dict | None] = {}
    scratch = scratch_folder(keeper.project_root) if plan.writes else None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        exports = {pool.submit(_export, backend, plan.target, d): d for d in [*plan.writes, *plan.ours]}
        for future in as_completed(exports):
            difference, content = exports[future], future.result()
            rel = local_path(difference)
            if difference in plan.ours:  # the workspace's content as it is: recorded as such, the checkout then sends ours
                if content is not None:
                    entries[difference.rel] = _entry(content, difference.remote)
                continue
            if content is None:
                console.warn(f"{printable(prefix + rel)}: gone from the workspace since the listing; not pulled")
                continue
            if len(content) > MAX_IMPORT_BYTES:  # a notebook: the listing gives no size
                console.warn(f"not pulled {printable(prefix + rel)}: {too_large(len(content))}")
                result.left.append(rel)
                continue
            if kind_of(difference.remote) == "file" and notebook_language(posixpath.basename(rel), content[:64]):
                console.warn(f"not pulled {printable(prefix + rel)}: a workspace file holding a notebook's source; "
                             "checkout would send it back as a notebook (import it as a notebook in the workspace)")
                result.left.append(rel)
                continue
            assert scratch is not None
            written, kept = write_local(source_dir, rel, content, plan.local_digests.get(rel), scratch=scratch, keeper=keeper)
            if kept:
                result.kept[rel] = kept
            if written is None:
                console.warn(f"not pulled {printable(prefix + rel)}: it changed here since the pull began")
                result.left.append(rel)
                continue
            result.written.append(rel)
            entries[difference.rel] = _entry(written, difference.remote)
            console.info(f"pulled {printable(prefix + rel)}")
    for difference in plan.deletes:
        rel = local_path(difference)
        deleted, kept = delete_local(source_dir, rel, plan.local_digests.get(rel), keeper=keeper)
        if kept:
            result.kept[rel] = kept
        if not deleted:
            console.warn(f"not deleted {printable(prefix + rel)}: it changed here since the pull began")
            result.left.append(rel)
            continue
        result.deleted.append(rel)
        entries[difference.rel] = None
        console.info(f"deleted {printable(prefix + rel)} (deleted in the workspace)")
    by_rel = {item.remote_rel: item for item in desired_items(source_dir, env=None, libraries=None)} if plan.same else {}
    for difference in plan.same:  # both sides hold the same text: recorded with the working copy's hash
        item = by_rel.get(difference.rel)
        if item is not None and difference.remote is not None:
            entries[difference.rel] = _entry(item.content, difference.remote)
    if entries:
        result.recorded = _record(backend, plan, entries, console)
    return result


def _export(backend: Backend, target: str, difference: Difference) -> bytes | None:
    return _export_path(backend, f"{target}/{difference.rel}")


def _export_path(backend: Backend, path: str) -> bytes | None:
    try:
        return backend.export(path)
    except NotFound:
        return None


def _entry(content: bytes, info: ObjectInfo | None) -> dict:
    assert info is not None  # a write, an --ours conflict or a same-text one has a workspace object
    return {"sha256": hashlib.sha256(content).hexdigest(), "modified_at": info.modified_at, "object_id": info.object_id}


# ---- the folder's manifest -----------------------------------------------------------------------


def _record(backend: Backend, plan: PullPlan, entries: dict[str, dict | None], console: Console) -> bool:
    """Merge the pulled state into the folder's manifest, unless another sync rewrote it meanwhile."""
    current = read_manifest_record(backend, plan.target)
    if current.nonce != plan.destination.manifest_nonce:
        console.warn(f"another sync wrote {plan.target} during the pull: its record was left as it is; "
                     "the next checkout sends the pulled files once")
        return False
    objects = dict(current.entries)
    for rel, entry in entries.items():
        if entry is None:
            objects.pop(rel, None)
        else:
            objects[rel] = entry
    body = json.dumps({"version": MANIFEST_VERSION, "nonce": uuid.uuid4().hex, "objects": objects}, indent=0, sort_keys=True)
    backend.import_object(f"{plan.target}/{MANIFEST_NAME}", body.encode(), format="AUTO", overwrite=True)
    return True
