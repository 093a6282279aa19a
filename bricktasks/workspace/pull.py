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

A workspace object is not pulled (a warning says why) when its local file could not be sent back as
the same object or would hurt the working copy: not a notebook or file; a name that is unsafe
(`..`, NUL, `\\`), invisible (control, bidi or zero-width characters, a part starting or ending with
whitespace), longer than a local name may be (255 bytes), hidden, a cache, or ignored by git; a
local file or folder in the way (a file checkout does not send, a file where a folder goes); two
workspace objects that become one local file (notebook `a` and file `a.py`); more than the 10 MB
checkout could send back; a workspace file holding a notebook's source (checkout would make it a
notebook). `:` and other printable characters Linux holds are pulled as they are.

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
import os
import posixpath
import subprocess
import tempfile
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.base import MAX_IMPORT_BYTES, Backend, ObjectInfo, ObjectType, notebook_language
from bricktasks.console.console import Console, printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS
from bricktasks.source.items import SourceItem, is_sent
from bricktasks.workspace.differences import ADDED, DELETED, MODIFIED, SAME, Difference, differences, holds_the_same, in_local_conventions
from bricktasks.workspace.helpers import desired_items
from bricktasks.workspace.overwritten import Keeper, state_folder
from bricktasks.workspace.status import local_name
from bricktasks.workspace.sync import (
    LIST_WORKERS,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MAX_NAME_BYTES,
    Destination,
    read_manifest_record,
    survey,
)

__all__ = ["PullPlan", "PullResult", "plan_pull", "apply_pull", "describe_pull", "THEIRS", "OURS", "TEMPORARIES"]

THEIRS, OURS = "theirs", "ours"
TEMPORARIES = "pulling"  # below .bricktasks/: where each file is written before it is renamed into place
STALE_TEMPORARY_S = 3600  # a temporary this old is a killed pull's (a running one renames its own within seconds)
GIT_TIMEOUT_S = 60


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
              resolve: str | None, destination: Destination | None = None) -> PullPlan:
    """Decide what to pull from `target`; `resolve` is None, THEIRS or OURS for the conflicts."""
    destination = destination or survey(backend, target)
    if not destination.exists:
        raise UserInputError(f"{target} does not exist (or is not a folder)", "run invoke checkout first")
    if not destination.manifest:
        raise UserInputError(f"{target} has no sync record, so nothing tells which side changed what",
                             "run invoke status to compare, then invoke checkout to record the folder's state")
    items = desired_items(source_dir, env=env, libraries=libraries)
    by_rel = {item.remote_rel: item for item in items}
    moving = [difference for difference in differences(items, destination.objects, destination.manifest)
              if difference.rel not in HELPER_NOTEBOOKS and difference.workspace != SAME]  # changed here only: checkout sends it
    same = _same_content(backend, target, [(d, by_rel[d.rel]) for d in moving
                                           if d.conflict and d.local_rel is not None and d.remote is not None])
    skipped = _unpullable(source_dir, [d for d in moving if d.rel not in same])
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
    digests = {_local(d): _digest(source_dir / _local(d)) for d in [*writes, *deletes]}
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
    lines = [f"would pull   {printable(prefix + _local(d))}" for d in plan.writes if d not in plan.conflicts]
    lines += [f"would delete {printable(prefix + _local(d))} (deleted in the workspace)" for d in plan.deletes if d not in plan.conflicts]
    for difference in plan.conflicts:
        taken = {THEIRS: "the workspace's version wins", OURS: "the working copy's version wins"}.get(plan.resolve or "", "refused")
        lines.append(f"conflict {printable(prefix + _local(difference))} ({difference.code}: {taken})")
    return lines


# ---- what cannot be pulled ---------------------------------------------------------------------


def _unpullable(source_dir: Path, moving: list[Difference]) -> dict[str, str]:
    """Why each of these workspace changes cannot be pulled, by workspace path (those that can are absent)."""
    why: dict[str, str] = {}
    by_name: defaultdict[str, list[Difference]] = defaultdict(list)
    for difference in moving:
        by_name[_local(difference)].append(difference)
    for name, sharing in by_name.items():
        if len(sharing) > 1:  # notebook `a` and file `a.py`: one would overwrite the other
            both = " and ".join(f"{_kind(d.remote)} {printable(d.rel)}" for d in sharing)
            for difference in sharing:
                why[difference.rel] = f"the workspace's {both} would both be the local file {printable(name)}"
    new = [d for d in moving if d.rel not in why and d.local_rel is None and d.remote is not None]
    for difference in new:
        assert difference.remote is not None
        problem = _name_problem(source_dir, local_name(difference.rel, difference.remote), difference.remote)
        if problem:
            why[difference.rel] = problem
    ignored = _ignored_by_git(source_dir, [_local(d) for d in new if d.rel not in why])
    for difference in new:
        if difference.rel not in why and _local(difference) in ignored:
            why[difference.rel] = "git ignores its name, so checkout would not send it back"
    for difference in moving:
        info = difference.remote
        if difference.rel not in why and info is not None and info.object_type is ObjectType.FILE and (info.size or 0) > MAX_IMPORT_BYTES:
            why[difference.rel] = _too_large(info.size or 0)
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


def _kind(info: ObjectInfo | None) -> str:
    return "notebook" if info is not None and info.object_type is ObjectType.NOTEBOOK else "file"


def _too_large(size: int) -> str:
    return (f"it is {size / 2**20:.1f} MB: checkout sends at most {MAX_IMPORT_BYTES // 2**20} MB per file; "
            "keep large data in a Volume or DBFS")


# ---- apply ----------------------------------------------------------------------------------------


def apply_pull(backend: Backend, source_dir: Path, plan: PullPlan, *, keeper: Keeper, console: Console, prefix: str = "",
               workers: int = LIST_WORKERS) -> PullResult:
    """Write, delete and record what plan_pull decided. Refuses unresolved conflicts first. `prefix`
    (the source folder) makes the printed paths paths from the project root. Each export is written
    as soon as it arrives (the writes themselves one at a time, in this thread)."""
    if plan.refused:
        raise UserInputError(
            f"changed on both sides: {', '.join(printable(prefix + _local(d)) for d in plan.conflicts)}; nothing was pulled",
            "pass --theirs to take the workspace's version, or --ours to keep the working copy's",
        )
    result = PullResult()
    entries: dict[str, dict | None] = {}
    scratch = _scratch(keeper.project_root) if plan.writes else None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        exports = {pool.submit(_export, backend, plan.target, d): d for d in [*plan.writes, *plan.ours]}
        for future in as_completed(exports):
            difference, content = exports[future], future.result()
            rel = _local(difference)
            if difference in plan.ours:  # the workspace's content as it is: recorded as such, the checkout then sends ours
                if content is not None:
                    entries[difference.rel] = _entry(content, difference.remote)
                continue
            if content is None:
                console.warn(f"{printable(prefix + rel)}: gone from the workspace since the listing; not pulled")
                continue
            if len(content) > MAX_IMPORT_BYTES:  # a notebook: the listing gives no size
                console.warn(f"not pulled {printable(prefix + rel)}: {_too_large(len(content))}")
                result.left.append(rel)
                continue
            if _kind(difference.remote) == "file" and notebook_language(posixpath.basename(rel), content[:64]):
                console.warn(f"not pulled {printable(prefix + rel)}: a workspace file holding a notebook's source; "
                             "checkout would send it back as a notebook (import it as a notebook in the workspace)")
                result.left.append(rel)
                continue
            assert scratch is not None
            written = _write_local(source_dir, rel, content, plan.local_digests.get(rel), scratch=scratch, keeper=keeper, result=result)
            if written is None:
                console.warn(f"not pulled {printable(prefix + rel)}: it changed here since the pull began")
                result.left.append(rel)
                continue
            result.written.append(rel)
            entries[difference.rel] = _entry(written, difference.remote)
            console.info(f"pulled {printable(prefix + rel)}")
    for difference in plan.deletes:
        rel = _local(difference)
        if not _delete_local(source_dir, rel, plan.local_digests.get(rel), keeper=keeper, result=result):
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
    assert info is not None  # a write, an --ours conflict or a same-text one has a workspace object
    return {"sha256": hashlib.sha256(content).hexdigest(), "modified_at": info.modified_at, "object_id": info.object_id}


# ---- the working copy -------------------------------------------------------------------------------


def _digest(path: Path) -> str | None:
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


def _scratch(project_root: Path) -> Path:
    """The folder of this pull's temporaries, with a killed pull's old ones removed."""
    folder = state_folder(project_root, TEMPORARIES)
    for stale in folder.iterdir():
        try:
            if time.time() - stale.lstat().st_mtime > STALE_TEMPORARY_S:
                stale.unlink()
        except OSError:
            pass  # another pull's, just renamed
    return folder


def _default_mode() -> int:
    mask = os.umask(0o022)  # the only way to read it; set back at once
    os.umask(mask)
    return 0o666 & ~mask


def _write_local(source_dir: Path, rel: str, exported: bytes, expected: str | None, *, scratch: Path, keeper: Keeper,
                 result: PullResult) -> bytes | None:
    """Write `exported` as the local file `rel` in the local file's conventions; returns what was
    written, or None when the file is no longer what the plan saw (`expected`: its SHA-256, None absent)."""
    path = _safe_path(source_dir, rel)
    content = exported
    old = path.read_bytes() if path.is_file() else None
    if (hashlib.sha256(old).hexdigest() if old is not None else None) != expected:
        return None
    if old is not None:
        content = in_local_conventions(exported, old)
        if content == old:
            return content
        result.kept[rel] = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), old)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=scratch, prefix=".pulling-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, path.stat().st_mode & 0o7777 if old is not None else _default_mode())
        os.replace(temporary, path)  # atomic (one file system: the project's): a kill leaves the old file or the new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return content


def _delete_local(source_dir: Path, rel: str, expected: str | None, *, keeper: Keeper, result: PullResult) -> bool:
    """Delete the local file `rel` (kept first); False when it is no longer what the plan saw."""
    path = _safe_path(source_dir, rel)
    if _digest(path) != expected:
        return False
    if path.is_file():
        result.kept[rel] = keeper.keep(rel, ObjectInfo(rel, ObjectType.FILE), path.read_bytes())
        path.unlink()
    return True


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
