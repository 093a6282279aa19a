"""Routes and the state handlers share: the local backend, a spool folder and open DBFS handles."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bricktasks.backends.local import LocalBackend
from bricktasks.emulator.identity import DEFAULT_USER, Identity, ensure_default_folders
from bricktasks.emulator.protocol import Request, Response

__all__ = ["Route", "EmulatorState", "DbfsHandle", "Handler", "QUIRKS", "DEFAULT_CLUSTER_ID"]

# the one emulated all-purpose cluster, always RUNNING (--cluster-id changes it; clusters_api.py)
DEFAULT_CLUSTER_ID = "0101-000000-emulated"

# Real-API behaviour the emulator only reproduces when asked, so clients can test their workarounds:
#   auto-overwrite-file   AUTO import with overwrite onto an existing FILE answers 400
#                         RESOURCE_ALREADY_EXISTS, as the real Workspace API has (databricks/cli#3386)
QUIRKS = ("auto-overwrite-file",)

CLUSTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

Handler = Callable[[Request, "EmulatorState", "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern, handler, whether it changes state, and its API family."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    mutating: bool
    api: str

    @classmethod
    def of(cls, method: str, pattern: str, handler: Handler, *, mutating: bool, api: str) -> Route:
        return cls(method, re.compile(pattern + r"\Z"), handler, mutating, api)


@dataclass
class DbfsHandle:
    """An open DBFS create/add-block/close upload: blocks go to a spool file until close."""

    path: str
    overwrite: bool
    spool: Path
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _local_backend(root: Path, cluster_start_s: float, cluster_id: str, user_name: str) -> LocalBackend:
    """The backend the emulator serves; `cluster_start_s` > 0 models a new cluster's start-up; a
    run on an existing cluster other than `cluster_id` fails at once, as on Databricks."""
    if cluster_start_s < 0:
        raise ValueError(f"cluster_start_s must be 0 or more seconds; got {cluster_start_s}")
    return LocalBackend(root, cluster_start_s=cluster_start_s, clusters=frozenset({cluster_id}), user_name=user_name)


class EmulatorState:
    """What outlives one request: the backend over the root, spooled uploads and DBFS handles."""

    HANDLE_IDLE_SECONDS = 600.0  # DBFS closes a handle idle for 10 minutes

    def __init__(
        self, root: Path, quirks: tuple[str, ...] = (), *, serverless: bool = True, cluster_start_s: float = 0.0,
        user: str = DEFAULT_USER,
        cluster_id: str = DEFAULT_CLUSTER_ID,
    ) -> None:
        if not CLUSTER_ID.fullmatch(cluster_id):
            raise ValueError(f"cluster id {cluster_id!r} must be 1-100 letters, digits, '-', '_' or '.'")
        self.cluster_id = cluster_id  # the emulated all-purpose cluster (clusters_api.py)
        self.identity = Identity(user)  # the token's user (SCIM Me, run creator, /Users/<user>)
        self.backend = _local_backend(root, cluster_start_s, cluster_id, self.identity.user_name)
        ensure_default_folders(self.backend.paths, self.identity)
        self.quirks = frozenset(quirks)  # real-API misbehaviours to reproduce on request (see QUIRKS)
        # False: a workspace without serverless jobs (runs/submit refuses a task naming no cluster)
        self.serverless = serverless
        # spooled uploads live beside the backend's folders, never inside a served tree
        # (one folder per emulator: two emulators may serve the same root)
        spools = self.backend.root / ".emulator-spool"
        spools.mkdir(exist_ok=True)
        self.spool_dir = Path(tempfile.mkdtemp(prefix="spool-", dir=spools))
        self._handles: dict[int, DbfsHandle] = {}
        self._next_handle = 1
        self._lock = threading.Lock()

    def spool_file(self) -> Path:
        fd, name = tempfile.mkstemp(prefix="upload-", dir=self.spool_dir)
        os.close(fd)
        return Path(name)

    # -- DBFS handles -------------------------------------------------------------
    def open_handle(self, path: str, overwrite: bool) -> int:
        self._expire_handles()
        with self._lock:
            handle = self._next_handle
            self._next_handle += 1
            self._handles[handle] = DbfsHandle(path, overwrite, self.spool_file())
            return handle

    def handle(self, handle: int) -> DbfsHandle | None:
        with self._lock:
            found = self._handles.get(handle)
        if found is not None:
            found.touched = time.monotonic()
        return found

    def close_handle(self, handle: int) -> DbfsHandle | None:
        with self._lock:
            return self._handles.pop(handle, None)

    def _expire_handles(self) -> None:
        limit = time.monotonic() - self.HANDLE_IDLE_SECONDS
        with self._lock:
            stale = [key for key, value in self._handles.items() if value.touched < limit]
            expired = [self._handles.pop(key) for key in stale]
        for entry in expired:
            entry.spool.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._handles.clear()
        shutil.rmtree(self.spool_dir, ignore_errors=True)
