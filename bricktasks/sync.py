"""Push a local folder into a workspace folder: plan from content hashes, then apply in parallel.

The plan compares each local file's SHA-256 with a manifest kept in the destination folder
itself (`.bricktasks-sync.json`), together with the modification time the workspace reported
right after our upload. So a fresh CI clone uploads nothing that is unchanged (local mtimes
are never used), and an object edited in the workspace UI since (its modification time moved)
is overwritten, as the workflow wants: Git is the source of truth.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import posixpath
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, Backend, ObjectInfo, ObjectType
from bricktasks.backends.local import notebook_language
from bricktasks.errors import NotFound
from bricktasks.retry import AdaptiveConcurrency, call_with_retries
from bricktasks.sourcefiles import read_file, select_files

__all__ = ["Destination", "SourceItem", "SyncPlan", "SyncResult", "apply_sync", "collect_source", "plan_sync", "survey", "MANIFEST_NAME"]

MANIFEST_NAME = ".bricktasks-sync.json"
SKIPPED_DIRS = {"__pycache__", "node_modules"}
DEFAULT_WORKERS = 16  # writes at once; a rate limit shrinks it (AdaptiveConcurrency)
LIST_WORKERS = 32  # listings at once: reads, one per folder (the Databricks backend keeps 32 connections)


@dataclass(frozen=True)
class SourceItem:
    """One local file and the workspace object it becomes."""

    local_rel: str  # path below the source folder, e.g. conf/ci_config.py
    remote_rel: str  # path below the destination, e.g. conf/ci_config (notebooks lose the extension)
    object_type: ObjectType
    content: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def import_rel(self) -> str:
        """The name to import under: AUTO strips a notebook's extension itself."""
        return self.local_rel


@dataclass(frozen=True)
class SyncPlan:
    target: str
    uploads: list[SourceItem]
    unchanged: list[SourceItem]
    extra: list[str]  # remote objects (relative) with no local counterpart
    folders: list[str]  # relative folders to create, parents first
    manifest: dict[str, dict]  # the destination's manifest as found
    remote: dict[str, ObjectInfo] = field(default_factory=dict, repr=False)  # what the destination held, by relative path
    target_exists: bool = True


@dataclass
class SyncResult:
    target: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def is_sent(rel: str) -> bool:
    """Whether a selected path is sent up: not hidden (`.env*` among them), not a cache."""
    return not (is_hidden(rel) or SKIPPED_DIRS & set(rel.split("/")) or rel.endswith(".pyc"))


def collect_source(source_dir: Path, *, replace: dict[str, bytes] | None = None, exclude: set[str] = frozenset()) -> list[SourceItem]:
    """Every file below `source_dir` that git does not ignore, except hidden files, `.env*` and
    caches (bricktasks.sourcefiles: git's own view; a symbolic link is refused, exit 2).

    `replace` maps a relative path to the content to send instead (e.g. set_environment);
    `exclude` names relative paths not to send at all.
    """
    replace = replace or {}
    items = []
    for rel in select_files(source_dir, keep=is_sent):
        if rel in exclude:
            continue
        content = replace[rel] if rel in replace else read_file(source_dir, rel)
        items.append(_item(rel, content))
    for rel, content in replace.items():
        if not any(item.local_rel == rel for item in items):
            items.append(_item(rel, content))
    return sorted(items, key=lambda item: item.local_rel)


def _item(rel: str, content: bytes) -> SourceItem:
    language = notebook_language(posixpath.basename(rel), content[:64])
    if language:
        return SourceItem(rel, rel[: -len(NOTEBOOK_EXTENSIONS[language])], ObjectType.NOTEBOOK, content)
    return SourceItem(rel, rel, ObjectType.FILE, content)


def _walk(backend: Backend, root: str, workers: int) -> tuple[bool, dict[str, ObjectInfo]]:
    """(whether `root` is a folder, every object below it). The Workspace API lists one folder per
    request, so each folder is listed as soon as its parent's listing names it, with no wait for
    the rest of its level: the walk takes one round trip per level of depth, at most."""
    found: dict[str, ObjectInfo] = {}

    def listing(folder: str) -> list[ObjectInfo]:
        return call_with_retries(lambda: backend.list(folder))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            first = listing(root)
        except NotFound:
            return False, found
        if any(info.path == root for info in first):
            return False, found  # listing a notebook or file answers with the object itself
        arrived, pending = [first], set()
        while arrived:
            for info in itertools.chain.from_iterable(arrived):
                found[info.path[len(root):].lstrip("/")] = info
                if info.object_type is ObjectType.DIRECTORY:
                    pending.add(pool.submit(listing, info.path))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            arrived = [future.result() for future in done]
    return True, found


def read_manifest(backend: Backend, target: str) -> dict[str, dict]:
    try:
        data = json.loads(call_with_retries(lambda: backend.export(f"{target}/{MANIFEST_NAME}")))
        return data.get("objects", {}) if isinstance(data, dict) else {}
    except (NotFound, ValueError):
        return {}  # a missing or garbled manifest only costs a full upload


@dataclass(frozen=True)
class Destination:
    """What a destination folder holds, read before planning."""

    target: str
    exists: bool  # the folder exists (it may be empty)
    objects: dict[str, ObjectInfo]  # everything below it, keyed by relative path
    manifest: dict[str, dict]  # its sync manifest's entries ({} if none)


def survey(backend: Backend, target: str, *, workers: int = LIST_WORKERS) -> Destination:
    """List `target`'s tree and read its manifest, both at once: the manifest costs no extra round trip."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        manifest_read = pool.submit(read_manifest, backend, target)
        exists, objects = _walk(backend, target, workers)
        manifest = manifest_read.result() if MANIFEST_NAME in objects else {}
    return Destination(target, exists, objects, manifest)


def plan_sync(
    backend: Backend, items: list[SourceItem], target: str, destination: Destination | None = None
) -> SyncPlan:
    """Decide what to upload: anything whose hash or workspace modification time differs from the
    manifest. `destination` is `survey(backend, target)`, when the caller read it already."""
    destination = destination or survey(backend, target)
    remote, manifest = destination.objects, destination.manifest
    uploads, unchanged = [], []
    for item in items:
        info, recorded = remote.get(item.remote_rel), manifest.get(item.remote_rel)
        same = (
            info is not None
            and recorded is not None
            and info.object_type is item.object_type
            and recorded.get("sha256") == item.digest
            and recorded.get("modified_at") == info.modified_at
        )
        (unchanged if same else uploads).append(item)
    wanted = {item.remote_rel for item in items}
    wanted_folders = {posixpath.dirname(rel) for rel in wanted} - {""}
    for rel in list(wanted_folders):
        while "/" in rel:
            rel = posixpath.dirname(rel)
            wanted_folders.add(rel)
    extra: list[str] = []
    for rel in sorted(remote):  # sorted: a folder comes before what it holds
        info = remote[rel]
        kept = rel in wanted_folders if info.object_type is ObjectType.DIRECTORY else rel in wanted
        if rel == MANIFEST_NAME or kept or any(rel.startswith(parent + "/") for parent in extra):
            continue
        extra.append(rel)
    missing_folders = sorted(
        (folder for folder in wanted_folders if folder not in remote or remote[folder].object_type is not ObjectType.DIRECTORY),
        key=lambda folder: folder.count("/"),
    )
    return SyncPlan(target, uploads, unchanged, extra, missing_folders, manifest, remote=remote, target_exists=destination.exists)


def apply_sync(
    backend: Backend,
    plan: SyncPlan,
    *,
    prune: bool = False,
    workers: int = DEFAULT_WORKERS,
    on_upload: Callable[[SourceItem], None] | None = None,
) -> SyncResult:
    """Create missing folders once, upload in parallel (adaptive on rate limits), prune, write the manifest."""
    result = SyncResult(plan.target, unchanged=[item.remote_rel for item in plan.unchanged], extra=list(plan.extra))
    if not plan.target_exists:
        call_with_retries(lambda: backend.mkdirs(plan.target))
    # mkdirs is mkdir -p: creating only the deepest missing folders covers their parents
    leaves = [folder for folder in plan.folders if not any(other.startswith(folder + "/") for other in plan.folders)]
    limiter = AdaptiveConcurrency(workers)
    lock = threading.Lock()

    def run(action: Callable[[], None]) -> None:
        limiter.run(action)

    with backend.throttle_listener(limiter.throttled), ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda folder: run(lambda: backend.mkdirs(f"{plan.target}/{folder}")), leaves))

        def upload(item: SourceItem) -> None:
            run(lambda: backend.import_object(f"{plan.target}/{item.import_rel}", item.content, format="AUTO", overwrite=True))
            with lock:
                result.uploaded.append(item.remote_rel)
            if on_upload:
                on_upload(item)

        list(pool.map(upload, plan.uploads))
        if prune and plan.extra:
            list(pool.map(lambda rel: run(lambda: _delete_quietly(backend, f"{plan.target}/{rel}")), plan.extra))
            result.pruned = list(plan.extra)
            result.extra = []
    if plan.uploads or result.pruned or not plan.manifest:
        write_manifest(backend, plan, workers=workers)
    result.uploaded.sort()
    return result


def _delete_quietly(backend: Backend, path: str) -> None:
    try:
        backend.delete(path, recursive=True)
    except NotFound:
        pass  # already gone: pruning is idempotent


def write_manifest(backend: Backend, plan: SyncPlan, *, workers: int = DEFAULT_WORKERS) -> None:
    """Record each object's hash with the modification time the workspace gives it now.

    Unchanged objects keep the time the plan's listing saw; only the folders that received an
    upload are listed again, all at once, since an import does not answer with the new time."""
    touched = sorted({posixpath.dirname(f"{plan.target}/{item.remote_rel}") for item in plan.uploads})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        listings = pool.map(lambda folder: call_with_retries(lambda: backend.list(folder)), touched)
        now = {info.path[len(plan.target):].lstrip("/"): info for listing in listings for info in listing}
    objects = {}
    for item in plan.uploads + plan.unchanged:
        info = now.get(item.remote_rel) or plan.remote.get(item.remote_rel)
        if info is not None:  # an object missing now is simply uploaded again next time
            objects[item.remote_rel] = {"sha256": item.digest, "modified_at": info.modified_at}
    body = json.dumps({"version": 1, "objects": objects}, indent=0, sort_keys=True).encode()
    call_with_retries(lambda: backend.import_object(f"{plan.target}/{MANIFEST_NAME}", body, format="AUTO", overwrite=True))
