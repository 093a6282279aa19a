"""`invoke checkout BRANCH --watch`: after the first sync (the checkout), keep the branch folder in
step with the working copy, one sync per burst of file-system events (watchfiles; our poller,
watch_poll, where the system gives no events, on WSL, or with WATCHFILES_FORCE_POLLING=1).

What a sync sends follows checkout's rules exactly: git's selection (.gitignore, hidden files and
caches left out, symbolic links refused), the same credential scan (a file that fails it is not
uploaded: one line says so and the watch goes on), the same plan (`plan_sync`), the same
keep-before-overwrite (a workspace edit since the last sync is copied into .bricktasks/overwritten/
first) and the same manifest. A deletion or rename reaches the workspace as checkout would make it:
with --prune the old object is deleted, without it it stays (one line says so). The helper
notebooks are left as the first sync wrote them (upload-lib and switch-env rewrite them).

Fast because nothing is listed again: the folder's state (objects, manifest entries) stays in
memory after one survey, and a sync reads only the files the burst touched, asks get-status of only
the objects it may overwrite or delete (all at once: that is how an edit in the workspace since the
last sync is seen) and sends only what changed. Each upload's get-status after it records what the
workspace made of it; the manifest is written after a quiet second (or a minute of edits), not per
sync, under a claim held since the first write (see sync.py: a racing checkout trusts none of its
uploads, nor this watch its own, when they overlap).

A failed sync (the workspace unreachable after the backend's retries) prints one line and is tried
again, with backoff, from a fresh listing; the watch goes on. SIGINT (Ctrl-C) ends it with exit 0,
SIGTERM with 143 (the house code for a terminated task: a supervisor that stops the watch sees it
did); either way after the sync in flight has finished and the manifest is written.
"""
from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Generator, Mapping, Set
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bricktasks.backends.base import Backend, ObjectInfo, ObjectType
from bricktasks.backends.retrying import without_retries
from bricktasks.console.console import Console, printable
from bricktasks.errors import AuthError, BackendError, NotFound, UserInputError
from bricktasks.interrupts import Interrupted, deferred, received
from bricktasks.layout import HELPER_NOTEBOOKS
from bricktasks.source.files import read_file, select_files
from bricktasks.source.items import SourceItem, is_sent, source_item
from bricktasks.workspace.checkout import report_overwritten
from bricktasks.workspace.helpers import INSTALL_LIBRARIES_FILE, SET_ENVIRONMENT_FILE
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.sync import (
    DEFAULT_WORKERS,
    Destination,
    SyncPlan,
    SyncResult,
    claim_folder,
    delete_quietly,
    keep_edits,
    manifest_entry,
    plan_sync,
    raced,
    store_manifest,
    survey,
    write_objects,
)
from bricktasks.workspace.watch_changes import (
    BURST_MS,
    QUIET_MS,
    Backoff,
    Bookkeeping,
    admit,
    changed_paths,
    lies_under,
    objects_to_check,
    reselect_all,
    sync_line,
    to_reconsider,
)
from bricktasks.workspace.watch_poll import POLL_MS, poll_bursts

__all__ = ["FolderWatch", "watch_folder", "polling_asked", "TICK_MS"]

Bursts = Generator[Set[tuple[object, str]], None, None]  # watchfiles' (kind, absolute path) events, burst by burst
TICK_MS = 200  # with no event, the loop wakes this often (the manifest's quiet second, a retry's time)
HELPER_FILES = frozenset({SET_ENVIRONMENT_FILE, INSTALL_LIBRARIES_FILE})
CHECK_ROUNDS = 3  # plans redone after asking get-status of what the previous plan would write unseen


class FolderWatch:
    """One branch folder kept in step with the working copy: its state in memory, one `sync` per
    burst, `flush` to write the manifest. `keeper_for` gives each sync its Keeper (None: --force)."""

    def __init__(
        self, backend: Backend, source_dir: Path, target: str, *, prune: bool, console: Console,
        keeper_for: Callable[[], Keeper] | None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend, self.source_dir, self.target = backend, source_dir, target
        self.prune, self.console, self.keeper_for, self.clock = prune, console, keeper_for, clock
        self.selection: set[str] = set()  # git's selection as last read
        self.local: dict[str, SourceItem] = {}  # the working copy's files as last read and admitted
        self.refused: dict[str, str] = {}  # local files refused (a credential, a bad name): local -> workspace path
        self.exists = True
        self.objects: dict[str, ObjectInfo] = {}  # what the folder holds, by relative path
        self.entries: dict[str, dict] = {}  # its manifest's entries as the next write records them
        self.nonce: str | None = None  # the manifest write we know of (ours or the checkout's)
        self.claim: str | None = None  # held from the first write after a manifest write to the next
        self.unrecorded: set[str] = set()  # uploads since the last manifest write
        self.reported_extra: set[str] = set()
        self.bookkeeping = Bookkeeping()
        self.stale = False  # after a failed sync: list the folder again before the next
        self.syncs = 0
        self._lock = threading.Lock()  # uploads record what they observed from their workers

    # -- state --------------------------------------------------------------------------------------

    def start(self) -> set[str]:
        """Read the folder (one survey) and the working copy; the local files whose content differs
        from what the manifest records (edited while the first sync ran): the first sync's paths."""
        self._survey()
        selected = self._selected()
        fresh = [item for item in (self._read(rel) for rel in sorted(selected)) if item is not None]
        self._take(set(selected), fresh, admit([], fresh, label=self.source_dir.name))
        self.reported_extra = set(self._plan().extra)
        return {rel for rel, item in self.local.items() if self.entries.get(item.remote_rel, {}).get("sha256") != item.digest}

    @property
    def held(self) -> set[str]:
        """Workspace paths a sync leaves as they are: the helper notebooks, and refused files' objects."""
        return {*HELPER_NOTEBOOKS, *self.refused.values()}

    def _survey(self) -> None:
        destination = survey(self.backend, self.target)
        self.exists, self.objects = destination.exists, dict(destination.objects)
        if self.nonce is None:  # after a failed sync the entries in memory are newer than the folder's manifest
            self.entries, self.nonce = dict(destination.manifest), destination.manifest_nonce
        self.stale = False

    def _selected(self, changed: set[str] | None = None) -> set[str]:
        """git's selection (helpers left out): of the whole folder, or updated for the paths changed."""
        keep: Callable[[str], bool] = lambda rel: is_sent(rel) and rel not in HELPER_FILES  # noqa: E731
        if changed is None or self.stale or reselect_all(changed):
            self.selection = set(select_files(self.source_dir, keep=keep))
        else:
            self.selection = {rel for rel in self.selection if not lies_under(rel, changed)} | set(
                select_files(self.source_dir, keep=keep, only=changed))
        return self.selection

    def _read(self, rel: str) -> SourceItem | None:
        try:
            return source_item(rel, read_file(self.source_dir, rel))
        except UserInputError:
            if not (self.source_dir / rel).exists():
                return None  # deleted since the selection: the next burst says so
            raise

    def _take(self, again: set[str], fresh: list[SourceItem], admitted: tuple[list[SourceItem], list[str]]) -> None:
        """The working copy after reading `again` (`fresh`: those still there): the admitted files are
        sent; a refused one is held (the workspace keeps what it has there, neither sent nor pruned)
        and read again only when it changes; one line each."""
        taken, lines = admitted
        for rel in again:
            self.local.pop(rel, None)
            self.refused.pop(rel, None)
        self.local.update({item.local_rel: item for item in taken})
        names = {item.local_rel for item in taken}
        self.refused.update({item.local_rel: item.remote_rel for item in fresh if item.local_rel not in names})
        for line in lines:
            self.console.warn(f"{line} (watching goes on)")

    def _destination(self) -> Destination:
        held = self.held
        objects = {rel: info for rel, info in self.objects.items() if rel not in held}
        return Destination(self.target, self.exists, objects, self.entries, self.nonce)

    def _plan(self) -> SyncPlan:
        return plan_sync(self.backend, list(self.local.values()), self.target, self._destination())

    # -- one sync -----------------------------------------------------------------------------------

    def sync(self, changed: set[str]) -> None:
        """Send what the burst that touched `changed` (relative paths) changed; one line if it wrote."""
        started = self.clock()
        selected = self._selected(changed)
        if self.stale:
            self._survey()
        again = to_reconsider(changed, {*self.local, *self.refused}, selected)
        fresh = [item for item in (self._read(rel) for rel in sorted(again & selected)) if item is not None]
        base = [item for rel, item in self.local.items() if rel not in again]
        names = {item.remote_rel: item.local_rel for item in self.local.values()}
        self._take(again, fresh, admit(base, fresh, label=self.source_dir.name, admitted_before=_names_of(self.local)))
        names.update({item.remote_rel: item.local_rel for item in self.local.values()})
        admitted = [self.local[rel] for rel in again if rel in self.local]
        likely = any(self.entries.get(item.remote_rel, {}).get("sha256") != item.digest for item in admitted) or (
            self.prune and any(rel not in self.local and rel not in self.refused for rel in again))
        plan = self._checked_plan(objects_to_check(again) - self.held, claim=likely)
        if plan.uploads or plan.replaced or plan.folders or (self.prune and plan.extra) or not plan.target_exists:
            self._write(plan, names, started)
        new_extra = [] if self.prune else sorted(set(plan.extra) - self.reported_extra)
        if new_extra:
            self.console.info(f"not in the working copy (pass --prune to remove): {', '.join(printable(rel) for rel in new_extra)}")
        self.reported_extra = set() if self.prune else set(plan.extra)

    def _checked_plan(self, paths: set[str], *, claim: bool) -> SyncPlan:
        """The plan, after asking get-status of every object it writes over or deletes (so that an edit
        made in the workspace since the last sync is seen and kept) and listing every folder it
        deletes. The first round also takes the claim when a write is likely: one round trip."""
        checked: set[str] = set()
        listed: set[str] = set()
        for _ in range(CHECK_ROUNDS):
            self._check(paths - checked, claim=claim and self.claim is None)
            checked |= paths
            claim = False
            plan = self._plan()
            deleted = [*plan.replaced, *(plan.extra if self.prune else [])]
            folders = {rel for rel in deleted if rel in self.objects and self.objects[rel].object_type is ObjectType.DIRECTORY}
            for folder in sorted(folders - listed):
                self._survey_folder(folder)  # what lies below it now, UI-made objects too: kept before the delete
            paths = {item.remote_rel for item in plan.uploads} | set(deleted)
            if paths <= checked and folders <= listed:
                return plan
            listed |= folders  # plan again: the listing may show edits below them
        return plan

    def _check(self, paths: set[str], *, claim: bool) -> None:
        if not paths and not claim:
            return
        def status(rel: str) -> ObjectInfo | None:
            try:
                return self.backend.get_status(f"{self.target}/{rel}")
            except NotFound:
                return None

        with ThreadPoolExecutor(max_workers=DEFAULT_WORKERS) as pool:
            taking = pool.submit(claim_folder, self.backend, self.target) if claim and self.exists else None
            found = dict(zip(sorted(paths), pool.map(status, sorted(paths)), strict=True))
            if taking is not None:
                self.claim = taking.result()
                self.bookkeeping.wrote(self.clock())  # dropped after a quiet second even if nothing follows
        for rel, info in found.items():
            if info is None:
                self._forget(rel)
            else:
                self.objects[rel] = info

    def _survey_folder(self, folder: str) -> None:
        below = survey(self.backend, f"{self.target}/{folder}")
        for rel in [rel for rel in self.objects if rel.startswith(folder + "/")]:
            del self.objects[rel]
        self.objects.update({f"{folder}/{rel}": info for rel, info in below.objects.items()})

    def _forget(self, rel: str) -> None:
        for other in [other for other in self.objects if other == rel or other.startswith(rel + "/")]:
            del self.objects[other]

    def _write(self, plan: SyncPlan, names: dict[str, str], started: float) -> None:
        """apply_sync's writes (keep the edits at risk, delete what is in the way, folders, uploads,
        prune) under the claim this watch holds; the manifest waits for `flush`."""
        if not plan.target_exists:
            self.backend.mkdirs(self.target)
            self.exists = True
        if self.claim is None:
            self.claim = claim_folder(self.backend, self.target)
        result = SyncResult(self.target, extra=list(plan.extra))
        keeper = self.keeper_for() if self.keeper_for else None
        keep_edits(self.backend, plan, result, prune=self.prune, workers=DEFAULT_WORKERS, keep=keeper.keep if keeper else None)
        try:
            write_objects(self.backend, plan, result, prune=self.prune, workers=DEFAULT_WORKERS, on_upload=self._observe)
        finally:
            self._after_writes(plan, result)
        report_overwritten(result, self.console)
        line = sync_line(uploaded=[names.get(rel, rel) for rel in result.uploaded], deleted=[names.get(rel, rel) for rel in result.pruned],
                         replaced=result.replaced, seconds=self.clock() - started)
        if line:
            self.console.result(line)
        self.syncs += 1

    def _observe(self, item: SourceItem) -> None:
        """After an upload (in its worker): what the workspace made of it, as the manifest records it."""
        info = self.backend.get_status(f"{self.target}/{item.remote_rel}")
        with self._lock:
            self.objects[item.remote_rel] = info
            self.entries[item.remote_rel] = manifest_entry(item, info)
            self.unrecorded.add(item.remote_rel)

    def _after_writes(self, plan: SyncPlan, result: SyncResult) -> None:
        uploaded = set(result.uploaded)  # written after what was in the way was deleted
        for rel in [*result.replaced, *result.pruned]:
            for table in (self.objects, self.entries):
                for other in [other for other in table if (other == rel or other.startswith(rel + "/")) and other not in uploaded]:
                    del table[other]
        for folder in plan.folders:
            self.objects.setdefault(folder, ObjectInfo(f"{self.target}/{folder}", ObjectType.DIRECTORY))
        self.bookkeeping.wrote(self.clock())

    # -- the manifest -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the manifest of what the folder holds now and drop the claim (nothing when nothing
        was written since the last time). If another sync wrote here meanwhile, this watch's uploads
        since then are not recorded: the next sync sends them again, as checkout does."""
        if self.claim is None:
            return
        others, stale = raced(self.backend, self.target, self.claim, self.nonce)
        if others:
            for rel in self.unrecorded:
                self.entries.pop(rel, None)
            self.console.info(f"another sync wrote into {self.target} meanwhile: the next sync sends these "
                              f"{len(self.unrecorded)} objects again, so that the folder holds the working copy")
        wanted = {item.remote_rel for item in self.local.values()} | self.held
        self.nonce = store_manifest(self.backend, self.target, {rel: entry for rel, entry in self.entries.items() if rel in wanted})
        for name in [self.claim, *stale]:
            delete_quietly(without_retries(self.backend), f"{self.target}/{name}")
        self.claim = None
        self.unrecorded.clear()
        self.bookkeeping.done()


def _names_of(local: dict[str, SourceItem]) -> dict[str, str]:
    """local path -> workspace path of each admitted file."""
    return {rel: item.remote_rel for rel, item in local.items()}


# -- the loop -----------------------------------------------------------------------------------------

def polling_asked(environ: Mapping[str, str]) -> bool:
    """watchfiles' documented rule for polling instead of events: WATCHFILES_FORCE_POLLING set (and
    not false/disable/disabled), or a WSL kernel (its Windows drives send no inotify events)."""
    value = environ.get("WATCHFILES_FORCE_POLLING", "")
    if value:
        return value.lower() not in {"false", "disable", "disabled"}
    return "microsoft-standard" in platform.uname().release.lower() and platform.system() == "Linux"


def _bursts(source_dir: Path, console: Console) -> Bursts:
    """Bursts of events below `source_dir` (an empty one every TICK_MS without any): file-system
    events through watchfiles where the system gives them, else our poller (watch_poll), said in one line."""
    if polling_asked(os.environ):
        console.info(f"polling {source_dir.name}/ every {POLL_MS} ms for changes (WATCHFILES_FORCE_POLLING, or WSL)")
        yield from poll_bursts(source_dir)
        return
    import watchfiles  # imported here: only a watching checkout pays for it

    # watch_filter None: every event counts (changed_paths decides what matters)
    bursts = watchfiles.watch(source_dir, watch_filter=None, debounce=BURST_MS, step=QUIET_MS, rust_timeout=TICK_MS,
                              yield_on_timeout=True, force_polling=False)
    try:
        first = next(bursts)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError) as exc:  # the system's watch limit reached, no inotify in a container...
        console.warn(f"no file-system events here ({exc}): polling {source_dir.name}/ every {POLL_MS} ms instead")
        yield from poll_bursts(source_dir)
        return
    try:
        yield first
        yield from bursts
    finally:
        bursts.close()


def watch_folder(
    backend: Backend, source_dir: Path, target: str, *, prune: bool, console: Console,
    keeper_for: Callable[[], Keeper] | None, bursts: Callable[[Path, Console], Bursts] = _bursts,
) -> int:
    """Watch `source_dir` and sync each burst into `target` (the checkout that filled it ran just
    before) until SIGINT (exit 0) or SIGTERM (Interrupted: 143). `bursts` is the event source."""
    folder = FolderWatch(backend, source_dir, target, prune=prune, console=console, keeper_for=keeper_for)
    root = str(source_dir.absolute())
    events = bursts(source_dir.absolute(), console)
    backoff = Backoff()
    blocked: set[str] = set()
    try:
        pending = changed_paths(next(events), root)  # the watcher runs from here: no edit is missed
        pending |= folder.start()
        console.info(f"watching {source_dir.name}/ for changes to sync into {target} (Ctrl-C stops)")
        for burst in events:
            if received() is not None:
                break
            changed = changed_paths(burst, root)
            if changed and blocked:
                pending |= blocked  # the refused burst is tried again with the next change
                blocked = set()
            pending |= changed
            now = folder.clock()
            if pending and backoff.due(now):
                batch, pending = pending, set()
                try:
                    with deferred():  # a signal now ends the watch after this sync, not in the middle of it
                        folder.sync(batch)
                    backoff.succeeded()
                except AuthError:
                    raise
                except UserInputError as exc:  # a symbolic link, an unreadable file: waits for the next change
                    blocked |= batch
                    console.warn(f"not synced: {exc.one_line()} (watching goes on)")
                except BackendError as exc:
                    pending |= batch
                    folder.stale = True
                    delay = backoff.failed(now)
                    console.warn(f"sync failed: {exc.one_line()}; trying again in {delay:g} s (watching goes on)")
            now = folder.clock()
            if folder.bookkeeping.due(now) and backoff.due(now):
                try:
                    with deferred():
                        folder.flush()
                except BackendError as exc:  # tried again later; the claim stays meanwhile
                    console.warn(f"the manifest was not written: {exc.one_line()}; trying again in {backoff.failed(now):g} s")
    except (KeyboardInterrupt, Interrupted):
        pass  # watchfiles turns the signal it sees into KeyboardInterrupt; received() says which
    finally:
        events.close()
    signal = received()
    try:
        with deferred(reraise=False):
            folder.flush()
    except BackendError as exc:
        raise BackendError(f"stopped watching {source_dir.name}/ after {folder.syncs} syncs, but the manifest was not written: "
                           f"{exc.one_line()}", "the next checkout sends this watch's uploads again") from exc
    if signal is not None and signal.exit_code != 130:
        signal.detail = f"stopped watching {source_dir.name}/ after {folder.syncs} syncs; the manifest is written"
        raise signal
    console.result(f"stopped watching {source_dir.name}/ after {folder.syncs} syncs; {target} holds the working copy")
    return 0
