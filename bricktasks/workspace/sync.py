"""Push a local folder into a workspace folder: plan from content hashes, then apply in parallel.

The plan compares each local file's SHA-256 with a manifest kept in the destination folder
itself (`.bricktasks-sync.json`), together with the modification time and object id the
workspace reported right after our upload. So a fresh CI clone uploads nothing that is unchanged
(local mtimes are never used), and an object edited in the workspace UI since (its modification
time moved) is overwritten, as the workflow wants: Git is the source of truth.

Racing syncs of one folder (two clones checking out one branch) never leave a manifest entry
that vouches for content its writer did not put there: each sync holds a claim file in the folder
while it writes, and a sync that finds another's claim (or a manifest newer than the one it read)
after its uploads records none of them, so the next sync sends them again (see `apply_sync`).
An object of another type in the way (a notebook where a folder goes) is deleted before the write.
"""
from __future__ import annotations

import bisect
import itertools
import json
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from bricktasks.backends.base import MAX_IMPORT_BYTES, NOTEBOOK_EXTENSIONS, Backend, ObjectInfo, ObjectType
from bricktasks.backends.retry import AdaptiveConcurrency
from bricktasks.backends.retrying import without_retries
from bricktasks.errors import NotFound, UserInputError
from bricktasks.source.items import SourceItem

__all__ = [
    "Destination", "SyncPlan", "SyncResult", "apply_sync", "check_uploadable", "plan_sync", "survey", "MANIFEST_NAME", "CLAIM_PREFIX",
    "is_sync_object", "vouched_for",
    # the steps of apply_sync, for a caller that keeps a sync open over several writes (watch)
    "keep_edits", "write_objects", "claim_folder", "raced", "delete_quietly", "manifest_entry", "store_manifest",
]

MANIFEST_NAME = ".bricktasks-sync.json"
MANIFEST_VERSION = 2  # 2: entries carry the object id, written only for verified uploads
CLAIM_PREFIX = ".bricktasks-sync-claim-"  # + a unique id: a sync writing into the folder now
STALE_CLAIM_MS = 30 * 60 * 1000  # a claim older than this (by the workspace's clock) is a dead sync's
MAX_NAME_BYTES = 255  # the longest path component the workspace (and most file systems) holds, in UTF-8 bytes
DEFAULT_WORKERS = 16  # writes at once; after a rate limit they are also paced (AdaptiveConcurrency)
LIST_WORKERS = 32  # listings at once: reads, one per folder (the Databricks backend keeps 32 connections)


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
    replaced: list[str] = field(default_factory=list)  # objects in the way of another type, deleted before the writes
    manifest_nonce: str | None = None  # which write of the manifest the plan read
    # objects (never folders) the plan writes over or deletes although the manifest does not vouch for
    # them: edited in the workspace since the last sync, or never synced. `edited_extra`: the same
    # among what only a prune deletes. apply_sync's `keep` gets their content first.
    edited: list[str] = field(default_factory=list)
    edited_extra: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    target: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # deleted first: an object of another type was in the way
    unverified: list[str] = field(default_factory=list)  # uploaded while another sync wrote here: sent again next time
    overwritten_edits: list[str] = field(default_factory=list)  # plan.edited (+ edited_extra when pruned) that were written over
    kept: dict[str, str] = field(default_factory=dict)  # of those, the ones `keep` saved: relative path -> where


def _walk(backend: Backend, root: str, workers: int) -> tuple[bool, dict[str, ObjectInfo]]:
    """(whether `root` is a folder, every object below it). The Workspace API lists one folder per
    request, so each folder is listed as soon as its parent's listing names it, with no wait for
    the rest of its level: the walk takes one round trip per level of depth, at most."""
    found: dict[str, ObjectInfo] = {}

    def listing(folder: str) -> list[ObjectInfo]:
        return backend.list(folder)

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


@dataclass(frozen=True)
class Manifest:
    """A destination's sync manifest: what each object held when its writer verified it, and the
    nonce of that write (every write of the manifest has a new one, so a reader tells them apart)."""

    entries: dict[str, dict]
    nonce: str | None = None


def read_manifest_record(backend: Backend, target: str) -> Manifest:
    try:
        data = json.loads(backend.export(f"{target}/{MANIFEST_NAME}"))
    except (NotFound, ValueError):
        return Manifest({})  # a missing or garbled manifest only costs a full upload
    if not isinstance(data, dict):
        return Manifest({})
    nonce = data.get("nonce") if isinstance(data.get("nonce"), str) else None
    objects = data.get("objects")
    # a version 1 manifest recorded the time of whatever write its listing saw, ours or a racing
    # checkout's: its entries are not trusted (one full upload after an upgrade)
    if data.get("version") != MANIFEST_VERSION or not isinstance(objects, dict):
        return Manifest({}, nonce)
    return Manifest({rel: entry for rel, entry in objects.items() if isinstance(entry, dict)}, nonce)


def read_manifest(backend: Backend, target: str) -> dict[str, dict]:
    return read_manifest_record(backend, target).entries


@dataclass(frozen=True)
class Destination:
    """What a destination folder holds, read before planning."""

    target: str
    exists: bool  # the folder exists (it may be empty)
    objects: dict[str, ObjectInfo]  # everything below it, keyed by relative path
    manifest: dict[str, dict]  # its sync manifest's entries ({} if none)
    manifest_nonce: str | None = None  # which write of the manifest was read


def survey(backend: Backend, target: str, *, workers: int = LIST_WORKERS) -> Destination:
    """List `target`'s tree and read its manifest, both at once: the manifest costs no extra round trip."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        manifest_read = pool.submit(read_manifest_record, backend, target)
        exists, objects = _walk(backend, target, workers)
        manifest = manifest_read.result() if MANIFEST_NAME in objects else Manifest({})
    return Destination(target, exists, objects, manifest.entries, manifest.nonce)


# -- what the workspace cannot hold: refused before the first request -----------------------------

def check_uploadable(items: list[SourceItem], *, prefix: str = "") -> None:
    """Refuse (UserInputError) a name the workspace cannot hold, content over the import limit, or
    two local paths that become one workspace path (`X.py` notebook + `X` file, `X.py` + `X/`)."""
    owners: dict[str, str] = {}
    folders: dict[str, str] = {}  # workspace folder -> a local file below it
    for item in items:
        _check_name(item, prefix)
        if len(item.content) > MAX_IMPORT_BYTES:
            raise UserInputError(
                f"{prefix}{item.local_rel} is {len(item.content) / 2**20:.1f} MB: the workspace imports at most "
                f"{MAX_IMPORT_BYTES // 2**20} MB per notebook or file; nothing was uploaded",
                "make it smaller, or keep data in a Volume or DBFS instead of the source folder",
            )
        if item.remote_rel in owners:
            raise UserInputError(
                f"{prefix}{owners[item.remote_rel]} and {prefix}{item.local_rel} would both be {item.remote_rel} in the "
                "workspace; nothing was uploaded", "rename or remove one of them",
            )
        owners[item.remote_rel] = item.local_rel
        parent = posixpath.dirname(item.remote_rel)
        while parent:
            folders.setdefault(parent, item.local_rel)
            parent = posixpath.dirname(parent)
    for rel, local in owners.items():
        if rel in folders:
            raise UserInputError(
                f"{prefix}{local} and the folder {prefix}{rel}/ would both be {rel} in the workspace; nothing was uploaded",
                "rename or remove one of them",
            )


def _check_name(item: SourceItem, prefix: str) -> None:
    for part in itertools.chain(item.import_rel.split("/"), item.remote_rel.split("/")):
        size = len(part.encode("utf-8", errors="surrogateescape"))
        if size > MAX_NAME_BYTES:
            folder = posixpath.dirname(item.local_rel)
            raise UserInputError(
                f"{prefix}{_shown(folder + '/' if folder else '')}{_shown(part[:32])}... is a name of {size} bytes in "
                f"UTF-8; the workspace holds at most {MAX_NAME_BYTES} per name; nothing was uploaded", "shorten it",
            )


def _shown(text: str) -> str:
    """`text` for one line: control characters escaped, the rest as it is."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


# -- plan ---------------------------------------------------------------------------------------------

def is_sync_object(rel: str) -> bool:
    """The manifest and the claims of running syncs: never extra, never pruned by another sync."""
    return rel == MANIFEST_NAME or (rel.startswith(CLAIM_PREFIX) and "/" not in rel)


def _twin(item: SourceItem) -> tuple[str, ObjectType] | None:
    """The workspace object the same local file became when it was the other type: `a.py` as a
    FILE is `a.py`, as a NOTEBOOK `a`. Left behind, it would shadow the new one (`import a` finds
    a stale FILE `a.py`), so a type change replaces it, as the Databricks CLI's sync does."""
    if item.object_type is ObjectType.NOTEBOOK:
        return item.local_rel, ObjectType.FILE
    if posixpath.splitext(item.local_rel)[1].lower() in NOTEBOOK_EXTENSIONS.values():
        return posixpath.splitext(item.local_rel)[0], ObjectType.NOTEBOOK
    return None


def _wanted_folders(items: list[SourceItem]) -> set[str]:
    folders: set[str] = set()
    for item in items:
        parent = posixpath.dirname(item.remote_rel)
        while parent:
            folders.add(parent)
            parent = posixpath.dirname(parent)
    return folders


def _in_the_way(items: list[SourceItem], wanted_folders: set[str], remote: dict[str, ObjectInfo]) -> list[str]:
    """Objects of the destination that our plan replaces by something of another type at their path
    (a notebook where a folder goes, a folder where a file goes...) or by a type-changed twin."""
    wanted = {item.remote_rel for item in items}
    found = set()
    for item in items:
        info = remote.get(item.remote_rel)
        if info is not None and info.object_type is not item.object_type:
            found.add(item.remote_rel)
        twin = _twin(item)
        if twin and twin[0] not in wanted and twin[0] not in wanted_folders:
            info = remote.get(twin[0])
            if info is not None and info.object_type is twin[1]:
                found.add(twin[0])
    for folder in wanted_folders:
        info = remote.get(folder)
        if info is not None and info.object_type is not ObjectType.DIRECTORY:
            found.add(folder)
    return sorted(rel for rel in found if not is_sync_object(rel))


def plan_sync(
    backend: Backend, items: list[SourceItem], target: str, destination: Destination | None = None
) -> SyncPlan:
    """Decide what to upload: anything whose hash, workspace modification time or object id differs
    from the manifest; and what is in the way of it. `destination` is `survey(backend, target)`,
    when the caller read it already. Refuses what the workspace cannot hold before any request."""
    check_uploadable(items)
    destination = destination or survey(backend, target)
    remote, manifest = destination.objects, destination.manifest
    uploads: list[SourceItem] = []
    unchanged: list[SourceItem] = []
    for item in items:
        info, recorded = remote.get(item.remote_rel), manifest.get(item.remote_rel)
        same = (
            info is not None
            and recorded is not None
            and info.object_type is item.object_type
            and recorded.get("sha256") == item.digest
            and recorded.get("modified_at") == info.modified_at
            and recorded.get("object_id") == info.object_id
        )
        (unchanged if same else uploads).append(item)
    wanted = {item.remote_rel for item in items}
    wanted_folders = _wanted_folders(items)
    replaced = _in_the_way(items, wanted_folders, remote)
    extra: list[str] = []
    for rel in sorted(remote):  # sorted: a folder comes before what it holds
        info = remote[rel]
        kept = rel in wanted_folders if info.object_type is ObjectType.DIRECTORY else rel in wanted
        if is_sync_object(rel) or kept or rel in replaced or any(rel.startswith(parent + "/") for parent in [*extra, *replaced]):
            continue
        extra.append(rel)
    edited = _edited(remote, manifest, overwritten=[item.remote_rel for item in uploads], deleted=replaced)
    edited_extra = _edited(remote, manifest, overwritten=[], deleted=extra)
    missing_folders = sorted(
        (folder for folder in wanted_folders if folder not in remote or remote[folder].object_type is not ObjectType.DIRECTORY),
        key=lambda folder: folder.count("/"),
    )
    return SyncPlan(
        target, uploads, unchanged, extra, missing_folders, manifest, remote=remote, target_exists=destination.exists,
        replaced=replaced, manifest_nonce=destination.manifest_nonce, edited=edited, edited_extra=edited_extra,
    )


def _edited(remote: dict[str, ObjectInfo], manifest: dict[str, dict], *, overwritten: list[str], deleted: list[str]) -> list[str]:
    """Of the objects `overwritten` and `deleted` (with everything below a deleted folder), those the
    manifest does not vouch for: what the workspace holds there may exist nowhere else."""
    found = set()
    for rel in overwritten:
        if rel in remote and remote[rel].object_type is not ObjectType.DIRECTORY and not vouched_for(remote[rel], manifest.get(rel)):
            found.add(rel)
    # what is below a folder is one contiguous range of the sorted paths: a prune of many folders in a big
    # tree stays n log n, not a scan of the whole listing per deleted folder
    ordered = sorted(remote) if deleted else []
    for rel in deleted:
        below = [rel] if rel in remote else []
        index = bisect.bisect_left(ordered, rel + "/")
        while index < len(ordered) and ordered[index].startswith(rel + "/"):
            below.append(ordered[index])
            index += 1
        found.update(other for other in below if remote[other].object_type is not ObjectType.DIRECTORY
                     and not is_sync_object(other) and not vouched_for(remote[other], manifest.get(other)))
    return sorted(found)


# -- apply --------------------------------------------------------------------------------------------

def apply_sync(
    backend: Backend,
    plan: SyncPlan,
    *,
    prune: bool = False,
    workers: int = DEFAULT_WORKERS,
    on_upload: Callable[[SourceItem], None] | None = None,
    keep: Callable[[str, ObjectInfo, bytes], str] | None = None,
) -> SyncResult:
    """Claim the destination, delete what is in the way, create missing folders once, upload in
    parallel (adaptive on rate limits), prune, then write the manifest and drop the claim.

    Before the first write, every object the plan writes over or deletes that the manifest does not
    vouch for (plan.edited, and plan.edited_extra when pruning) is exported and handed to `keep`
    (relative path, listing, content -> where it was kept), unless it already holds what we send.
    An export that fails stops the sync before anything is written: no edit is lost unseen.
    `keep` None (--force) keeps nothing; result.overwritten_edits still names them.

    The claim (a small file of our own in the destination) tells a sync racing this one that its
    listing may show our writes: it then records none of its uploads as verified (see `_finish`)."""
    result = SyncResult(plan.target, unchanged=[item.remote_rel for item in plan.unchanged], extra=list(plan.extra))
    keep_edits(backend, plan, result, prune=prune, workers=workers, keep=keep)
    if not plan.target_exists:
        backend.mkdirs(plan.target)
    writes = bool(plan.uploads or plan.replaced or plan.folders or (prune and plan.extra))
    if not writes:
        if not plan.manifest:
            write_manifest(backend, plan, workers=workers)
        return result
    claim = claim_folder(backend, plan.target)
    # one pace for the writes and the listings that observe them (see AdaptiveConcurrency): the
    # listings right after the last upload would otherwise meet the rate limit it ran into
    limiter = AdaptiveConcurrency(workers)
    try:
        write_objects(backend, plan, result, prune=prune, workers=workers, limiter=limiter, on_upload=on_upload)
    except Exception:
        _finish_quietly(backend, plan, result, claim, limiter)
        raise
    # a signal (KeyboardInterrupt, SystemExit) goes straight up: exiting promptly matters more, and
    # the claim left behind only makes the syncs of the next half hour trust none of their uploads
    _finish(backend, plan, result, claim, limiter)
    result.uploaded.sort()
    return result


def keep_edits(backend: Backend, plan: SyncPlan, result: SyncResult, *, prune: bool, workers: int,
               keep: Callable[[str, ObjectInfo, bytes], str] | None) -> None:
    at_risk = sorted({*plan.edited, *(plan.edited_extra if prune else [])})
    if not at_risk:
        return
    sending = {item.remote_rel: item.content for item in plan.uploads}

    def save(rel: str) -> tuple[str, str | None]:
        try:
            content = backend.export(f"{plan.target}/{rel}")
        except NotFound:  # gone since the survey: nothing to lose
            return rel, None
        if content == sending.get(rel):
            return rel, None  # it holds what we send (a sync that raced another, a first sync of a copied folder)
        return rel, keep(rel, plan.remote[rel], content) if keep else ""

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for rel, where in pool.map(save, at_risk):
            if where is not None:
                result.overwritten_edits.append(rel)
                if where:
                    result.kept[rel] = where


def write_objects(
    backend: Backend, plan: SyncPlan, result: SyncResult, *, prune: bool, workers: int,
    on_upload: Callable[[SourceItem], None] | None, limiter: AdaptiveConcurrency | None = None,
) -> None:
    """Delete what is in the way, create the missing folders, upload, prune: `workers` at once, at
    `limiter`'s pace (a new one unless the caller goes on at the same pace, as apply_sync does)."""
    # mkdirs is mkdir -p: creating only the deepest missing folders covers their parents
    leaves = [folder for folder in plan.folders if not any(other.startswith(folder + "/") for other in plan.folders)]
    limiter = limiter or AdaptiveConcurrency(workers)
    # the writes go to the backend without our retries: the limiter retries them itself, and must
    # see each RateLimited at once to slow its pace (a retrying backend would sleep through the
    # rate limit with all its workers still sending, and hide it from the limiter)
    backend = without_retries(backend)
    lock = threading.Lock()

    def run(action: Callable[[], None]) -> None:
        limiter.run(action)

    with backend.throttle_listener(limiter.throttled), ThreadPoolExecutor(max_workers=workers) as pool:
        # first what is in the way: the workspace replaces no object by one of another type
        list(pool.map(lambda rel: run(lambda: delete_quietly(backend, f"{plan.target}/{rel}")), plan.replaced))
        result.replaced = list(plan.replaced)
        list(pool.map(lambda folder: run(lambda: backend.mkdirs(f"{plan.target}/{folder}")), leaves))

        def upload(item: SourceItem) -> None:
            run(lambda: backend.import_object(f"{plan.target}/{item.import_rel}", item.content, format="AUTO", overwrite=True))
            with lock:
                result.uploaded.append(item.remote_rel)
            if on_upload:
                on_upload(item)

        list(pool.map(upload, plan.uploads))
        if prune and plan.extra:
            list(pool.map(lambda rel: run(lambda: delete_quietly(backend, f"{plan.target}/{rel}")), plan.extra))
            result.pruned = list(plan.extra)
            result.extra = []


def delete_quietly(backend: Backend, path: str) -> None:
    try:
        backend.delete(path, recursive=True)
    except NotFound:
        pass  # already gone: pruning is idempotent


# -- claims: how racing syncs of one folder learn of each other -----------------------------------------

def claim_folder(backend: Backend, target: str) -> str:
    """Create our claim before our first write; its name is unique to this sync."""
    name = f"{CLAIM_PREFIX}{uuid.uuid4().hex}.json"
    body = json.dumps({"version": 1, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
    backend.import_object(f"{target}/{name}", body, format="AUTO", overwrite=False)
    return name


def raced(backend: Backend, target: str, claim: str, manifest_nonce: str | None) -> tuple[bool, list[str]]:
    """(whether another sync may have written here since our survey, the stale claims to remove).

    Asked after our last observation of what we uploaded. Another sync that wrote in between either
    still holds its claim (it drops it only after writing its manifest), or has written its manifest
    since our survey (so the manifest's nonce changed), or died holding its claim."""
    # the listing strictly before the manifest: a sync whose claim is gone by the listing wrote its
    # manifest before it, so the manifest read after it shows a new nonce (both at once could miss both)
    objects = backend.list(target)
    nonce = read_manifest_record(backend, target).nonce
    claims = {info.path.rsplit("/", 1)[1]: info for info in objects if info.path.rsplit("/", 1)[1].startswith(CLAIM_PREFIX)}
    ours = claims.pop(claim, None)
    now = ours.modified_at if ours and ours.modified_at else None  # the workspace's clock, not ours
    stale = [name for name, info in claims.items() if now and info.modified_at is not None and now - info.modified_at > STALE_CLAIM_MS]
    return bool(set(claims) - set(stale)) or nonce != manifest_nonce, stale


def _finish(backend: Backend, plan: SyncPlan, result: SyncResult, claim: str, limiter: AdaptiveConcurrency) -> None:
    workers = limiter.maximum
    observed = _observe(backend, plan, result.uploaded, limiter)
    others, stale = raced(backend, plan.target, claim, plan.manifest_nonce)
    if others:  # what we observed may be a racing sync's write: trust none of our uploads
        result.unverified = sorted(result.uploaded)
        observed = {}
    write_manifest(backend, plan, workers=workers, observed=observed, uploaded=set(result.uploaded))
    for name in [claim, *stale]:  # once each: a claim left behind only goes stale (see _finish_quietly)
        delete_quietly(without_retries(backend), f"{plan.target}/{name}")


def _finish_quietly(backend: Backend, plan: SyncPlan, result: SyncResult, claim: str, limiter: AdaptiveConcurrency) -> None:
    """After a failed or interrupted sync: record what is known and drop the claim. If even that
    fails, the claim stays: racing syncs then trust none of their uploads until it is stale."""
    try:
        _finish(backend, plan, result, claim, limiter)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


def _observe(backend: Backend, plan: SyncPlan, uploaded: list[str], limiter: AdaptiveConcurrency) -> dict[str, ObjectInfo]:
    """List the folders that received an upload, all at once (an import does not answer with the
    object's new modification time): what each uploaded object looks like right after our writes.
    At the writes' pace, retried by the limiter as they are."""
    touched = sorted({posixpath.dirname(f"{plan.target}/{rel}") for rel in uploaded})
    plain = without_retries(backend)
    with plain.throttle_listener(limiter.throttled), ThreadPoolExecutor(max_workers=limiter.maximum) as pool:
        listings = pool.map(lambda folder: limiter.run(lambda: plain.list(folder)), touched)
        return {info.path[len(plan.target):].lstrip("/"): info for listing in listings for info in listing}


def write_manifest(
    backend: Backend,
    plan: SyncPlan,
    *,
    workers: int = DEFAULT_WORKERS,
    observed: dict[str, ObjectInfo] | None = None,
    uploaded: set[str] | None = None,
) -> str:
    """Record each object's hash with the modification time and object id the workspace gives it.

    An unchanged object keeps what the plan's listing saw (its entry was verified by the sync that
    wrote it). An uploaded object is recorded only as `observed` right after our writes, and only
    when no other sync raced ours: otherwise it has no entry and the next sync sends it again.
    Returns the manifest's new nonce."""
    observed = observed or {}
    uploaded = {item.remote_rel for item in plan.uploads} if uploaded is None else uploaded
    objects = {}
    for item in plan.unchanged:
        info = plan.remote.get(item.remote_rel)
        if info is not None:
            objects[item.remote_rel] = manifest_entry(item, info)
    for item in plan.uploads:
        info = observed.get(item.remote_rel)
        if item.remote_rel in uploaded and info is not None and info.object_type is item.object_type:
            objects[item.remote_rel] = manifest_entry(item, info)
    return store_manifest(backend, plan.target, objects)


def store_manifest(backend: Backend, target: str, objects: dict[str, dict]) -> str:
    """Write `target`'s manifest with these entries (relative path -> manifest_entry) under a new
    nonce, and return the nonce: what a later `raced` compares with."""
    nonce = uuid.uuid4().hex
    body = json.dumps({"version": MANIFEST_VERSION, "nonce": nonce, "objects": objects}, indent=0, sort_keys=True)
    backend.import_object(f"{target}/{MANIFEST_NAME}", body.encode(), format="AUTO", overwrite=True)
    return nonce


def vouched_for(info: ObjectInfo | None, recorded: Mapping[str, object] | None) -> bool:
    """Whether the workspace object is exactly what the sync that wrote `recorded` verified: nobody
    (the UI, another working copy) wrote it since."""
    return (
        info is not None
        and recorded is not None
        and recorded.get("modified_at") == info.modified_at
        and recorded.get("object_id") == info.object_id
    )


def manifest_entry(item: SourceItem, info: ObjectInfo) -> dict:
    return {"sha256": item.digest, "modified_at": info.modified_at, "object_id": info.object_id}
