"""`invoke pull`: bring edits made in a branch's workspace folder into the working copy.

What moves is decided by differences.py (the sync manifest as the common ancestor):
- edited in the workspace, unchanged here (` M`): exported as source and written over the local file;
- made in the workspace (` A`): written as a new file (a notebook with its language's extension);
- deleted in the workspace (` D`): the local file is deleted;
- changed on both sides, or on both sides with no record (`MM`, `MD`, `DM`, `??`): a conflict, refused
  (exit 2, naming them) unless `theirs` (the workspace's version wins) or `ours` (the working copy's
  wins: nothing is written here, and the next checkout sends it);
- changed only here: left alone. The helper notebooks are never pulled (checkout writes them).

Each local file is written through a temporary in its folder and renamed over, so a killed pull leaves
every file old or new; it keeps the file's line endings (CRLF stays CRLF) and byte-order mark; and
every local file it overwrites or deletes is kept first (overwritten.Keeper, `working-copy/<branch>`).
Nothing is written through a symbolic link or outside the source folder. Then the folder's manifest
records the pulled state, so the next checkout sends nothing for those files.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.base import Backend, ObjectInfo, ObjectType
from bricktasks.console.console import Console, printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS
from bricktasks.source.items import SourceItem, is_sent
from bricktasks.workspace.differences import ADDED, DELETED, MODIFIED, SAME, UNKNOWN, Difference, differences
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.status import local_name
from bricktasks.workspace.sync import LIST_WORKERS, MANIFEST_NAME, MANIFEST_VERSION, Destination, read_manifest_record, survey

__all__ = ["PullPlan", "PullResult", "plan_pull", "apply_pull", "describe_pull", "THEIRS", "OURS"]

THEIRS, OURS = "theirs", "ours"
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class PullPlan:
    target: str
    writes: tuple[Difference, ...]  # workspace -> working copy (new or overwritten local files)
    deletes: tuple[Difference, ...]  # local files whose workspace object was deleted
    conflicts: tuple[Difference, ...]  # changed on both sides, before --theirs / --ours
    ours: tuple[Difference, ...]  # recorded as the workspace holds them, not written: conflicts the working copy
    # wins (--ours), and objects with no record whose contents are equal on both sides
    resolve: str | None  # None, THEIRS or OURS
    skipped: tuple[tuple[Difference, str], ...]  # (difference, why) not pulled
    destination: Destination = field(repr=False)

    @property
    def refused(self) -> bool:
        """Conflicts and no --theirs / --ours: nothing is pulled."""
        return bool(self.conflicts) and self.resolve is None

    @property
    def empty(self) -> bool:
        return not (self.writes or self.deletes or self.ours)


@dataclass
class PullResult:
    written: list[str] = field(default_factory=list)  # local paths (below the source folder)
    deleted: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # local path -> where its old version was kept
    recorded: bool = False  # the manifest now records the pulled state


def plan_pull(backend: Backend, source_dir: Path, target: str, *, env: str | None, libraries: list[str] | None,
              resolve: str | None, destination: Destination | None = None) -> PullPlan:
    """Decide what to pull from `target`; `resolve` is None, THEIRS or OURS for the conflicts."""
    destination = destination or survey(backend, target)
    if not destination.exists:
        raise UserInputError(f"{target} does not exist (or is not a folder)", "run invoke checkout first")
    if not destination.manifest:
        raise UserInputError(f"{target} has no sync record, so nothing tells which side changed what",
                             "run invoke status to compare, then invoke checkout to record the folder's state")
    items = desired_items(source_dir, env=env, libraries=libraries)
    found = [difference for difference in differences(items, destination.objects, destination.manifest)
             if difference.rel not in HELPER_NOTEBOOKS]
    local_files = {path.relative_to(source_dir).as_posix() for path in source_dir.rglob("*") if not path.is_dir()}
    by_rel = {item.remote_rel: item for item in items}
    same = _same_content(backend, target, [by_rel[d.rel] for d in found if d.local == UNKNOWN])
    writes: list[Difference] = []
    deletes: list[Difference] = []
    conflicts: list[Difference] = []
    ours: list[Difference] = [d for d in found if d.rel in same]
    skipped: list[tuple[Difference, str]] = []
    for difference in found:
        if difference.rel in same:
            continue
        if difference.workspace == SAME:
            continue  # changed here only: the next checkout sends it
        if difference.local_rel is None and difference.remote is not None:
            why = _unpullable(local_name(difference.rel, difference.remote), difference.remote, local_files, difference.local)
            if why:
                skipped.append((difference, why))
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
    return PullPlan(target, tuple(writes), tuple(deletes), tuple(conflicts), tuple(ours), resolve, tuple(skipped), destination)


def _same_content(backend: Backend, target: str, items: list[SourceItem]) -> set[str]:
    """Of objects on both sides with no record, those whose workspace content is the local one."""
    with ThreadPoolExecutor(max_workers=LIST_WORKERS) as pool:
        held = pool.map(lambda item: (item.remote_rel, _export_path(backend, f"{target}/{item.remote_rel}") == item.content), items)
        return {rel for rel, equal in held if equal}


def describe_pull(plan: PullPlan, *, prefix: str = "") -> list[str]:
    """The plan, one line per file: what a pull writes, deletes, or refuses."""
    lines = [f"pull     {printable(prefix + _local(d))}" for d in plan.writes if d not in plan.conflicts]
    lines += [f"delete   {printable(prefix + _local(d))} (deleted in the workspace)" for d in plan.deletes if d not in plan.conflicts]
    for difference in plan.conflicts:
        taken = {THEIRS: "the workspace's version wins", OURS: "the working copy's version wins"}.get(plan.resolve or "", "refused")
        lines.append(f"conflict {printable(prefix + _local(difference))} ({difference.code}: {taken})")
    return lines


def _unpullable(name: str, info: ObjectInfo, local_files: set[str], local: str) -> str | None:
    """Why a workspace-only object cannot become the local file `name`, or None."""
    if info.object_type not in (ObjectType.NOTEBOOK, ObjectType.FILE):
        return "not a notebook or file"
    parts = name.split("/")
    if any(part in ("", ".", "..") or "\0" in part or "\\" in part for part in parts):
        return "its name is not a safe local path"
    if not is_sent(name):
        return "checkout would not send it back (a hidden name or a cache)"
    if local == SAME and name in local_files:
        return "a local file checkout does not send (ignored by git) is in the way"
    return None


def apply_pull(backend: Backend, source_dir: Path, plan: PullPlan, *, keeper: Keeper, console: Console, prefix: str = "",
               workers: int = LIST_WORKERS) -> PullResult:
    """Write, delete and record what plan_pull decided. Refuses unresolved conflicts first. `prefix`
    (the source folder) makes the printed paths paths from the project root."""
    if plan.refused:
        raise UserInputError(
            f"changed on both sides: {', '.join(printable(prefix + _local(d)) for d in plan.conflicts)}; nothing was pulled",
            "pass --theirs to take the workspace's version, or --ours to keep the working copy's",
        )
    result = PullResult()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        exported = dict(pool.map(lambda difference: (difference.rel, _export(backend, plan.target, difference)),
                                 [*plan.writes, *plan.ours]))
    entries: dict[str, dict | None] = {}
    for difference in plan.writes:
        content = exported[difference.rel]
        if content is None:
            console.warn(f"{printable(prefix + _local(difference))}: gone from the workspace since the listing; not pulled")
            continue
        rel = _local(difference)
        written = _write_local(source_dir, rel, content, keeper=keeper, result=result)
        result.written.append(rel)
        entries[difference.rel] = _entry(written, difference.remote)
        console.info(f"pulled {printable(prefix + rel)}")
    for difference in plan.deletes:
        rel = _local(difference)
        _delete_local(source_dir, rel, keeper=keeper, result=result)
        result.deleted.append(rel)
        entries[difference.rel] = None
        console.info(f"deleted {printable(prefix + rel)} (deleted in the workspace)")
    for difference in plan.ours:  # the workspace's content is what it holds: recorded as such, the checkout then sends ours
        content = exported[difference.rel]
        if content is not None:
            entries[difference.rel] = _entry(content, difference.remote)
    if entries:
        result.recorded = _record(backend, plan, entries, console)
    return result


def _local(difference: Difference) -> str:
    return difference.local_rel if difference.local_rel is not None else local_name(difference.rel, difference.remote)


def _export(backend: Backend, target: str, difference: Difference) -> bytes | None:
    return _export_path(backend, f"{target}/{difference.rel}")


def _export_path(backend: Backend, path: str) -> bytes | None:
    try:
        return backend.export(path)
    except NotFound:
        return None


def _entry(content: bytes, info: ObjectInfo | None) -> dict:
    assert info is not None  # a write or an --ours conflict has a workspace object
    return {"sha256": hashlib.sha256(content).hexdigest(), "modified_at": info.modified_at, "object_id": info.object_id}


# ---- the working copy -------------------------------------------------------------------------------


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


def _write_local(source_dir: Path, rel: str, exported: bytes, *, keeper: Keeper, result: PullResult) -> bytes:
    """Write `exported` as the local file `rel` in the local file's conventions; returns what was written."""
    path = _safe_path(source_dir, rel)
    content = exported
    if path.is_file():
        old = path.read_bytes()
        content = _as_local(exported, old)
        if content == old:
            return content
        result.kept[rel] = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), old)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pulling-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)  # atomic: a kill leaves the old file or the new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return content


def _as_local(exported: bytes, old: bytes) -> bytes:
    """The workspace's text in the local file's line endings and byte-order mark."""
    content = exported
    if b"\r\n" in old and b"\r\n" not in content:
        content = content.replace(b"\n", b"\r\n")
    if old.startswith(UTF8_BOM) and not content.startswith(UTF8_BOM):
        content = UTF8_BOM + content
    return content


def _delete_local(source_dir: Path, rel: str, *, keeper: Keeper, result: PullResult) -> None:
    path = _safe_path(source_dir, rel)
    if path.is_file():
        result.kept[rel] = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), path.read_bytes())
        path.unlink()


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
