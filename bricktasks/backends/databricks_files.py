"""The Databricks backend's files: DBFS through the DBFS API, Volumes through the Files API,
workspace files through workspace import/export.

Composed into `DatabricksBackend`, which holds one and forwards its file operations to it: it is
given the backend's SDK client, the plain DBFS API, the error translation and the workspace
operations (for workspace files). Uploads stream with bounded memory: DBFS in
create / add-block (1 MB) / close, Volumes with the SDK's Files client from the local file.
Volumes and workspace files have no rename, so a move there is copy + delete.
"""
from __future__ import annotations

import base64
import contextlib
import email.utils
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from bricktasks.backends.base import FileInfo, ObjectInfo, ObjectType, file_kind
from bricktasks.backends.databricks_errors import error_code, translate_error
from bricktasks.backends.databricks_sdk import DatabricksError, DbfsAPI, SdkClient
from bricktasks.errors import AlreadyExists, BackendError, BricktasksError, DirectoryNotEmpty, InvalidRequest, NotFound, TransientError

__all__ = ["DatabricksFiles", "WorkspaceObjects", "DBFS_BLOCK"]

DBFS_BLOCK = 1024 * 1024  # add-block takes at most 1 MB of raw data
DBFS_HANDLE_IDLE_MS = 10 * 60 * 1000  # a create handle expires after 10 idle minutes
TEMPORARY_SUFFIX = ".tmp"
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX))  # .<name>.<8 hex>.tmp


class WorkspaceObjects(Protocol):
    """The workspace operations workspace files go through (the backend's own, translated errors)."""

    def get_status(self, path: str) -> ObjectInfo: ...

    def list(self, path: str) -> list[ObjectInfo]: ...

    def mkdirs(self, path: str) -> None: ...

    def import_object(
        self, path: str, content: bytes, *, format: str = "AUTO", language: str | None = None, overwrite: bool = False
    ) -> None: ...

    def export(self, path: str, *, format: str = "SOURCE") -> bytes: ...

    def delete(self, path: str, *, recursive: bool = False) -> None: ...


class DatabricksFiles:
    """file_status, list_files, upload_file, read_file, move_file, delete_file, mkdirs_files.

    `errors(target)` is the backend's error boundary (a context manager translating SDK errors,
    which also checks the host once and sets the request budget); `workspace` does workspace files."""

    def __init__(
        self,
        client: SdkClient,
        dbfs: DbfsAPI,
        errors: Callable[[str], AbstractContextManager[None]],
        workspace: WorkspaceObjects,
    ) -> None:
        self.client = client
        self._dbfs = dbfs  # the plain API: the rules for dbfs:/ paths are ours
        self._errors = errors
        self.workspace = workspace

    def file_status(self, path: str) -> FileInfo:
        kind = file_kind(path)
        with self._errors(path):
            if kind == "dbfs":
                status = self._dbfs.get_status(path)
                return FileInfo(path, bool(status.is_dir), status.file_size or 0, status.modification_time or 0)
            if kind == "volumes":
                try:
                    meta = self.client.files.get_metadata(path)
                    return FileInfo(path, False, meta.content_length or 0, _ms(meta.last_modified))
                except DatabricksError as exc:
                    if not isinstance(translate_error(exc, path), NotFound):
                        raise
                self.client.files.get_directory_metadata(path)
                return FileInfo(path, True, 0, 0)
        info = self.workspace.get_status(path)
        return FileInfo(path, info.object_type is ObjectType.DIRECTORY, info.size or 0, info.modified_at or 0)

    def list_files(self, path: str) -> list[FileInfo]:
        kind = file_kind(path)
        with self._errors(path):
            if kind == "dbfs":
                entries = [_dbfs_entry(path, f) for f in self._dbfs.list(path)]
                return sorted(entries, key=lambda f: f.path)
            if kind == "volumes":
                status = self.file_status(path)
                if not status.is_dir:
                    return [status]
                return sorted(
                    (
                        FileInfo(e.path or "", bool(e.is_directory), e.file_size or 0, e.last_modified or 0)
                        for e in self.client.files.list_directory_contents(path)
                    ),
                    key=lambda f: f.path,
                )
        return [FileInfo(o.path, o.object_type is ObjectType.DIRECTORY, o.size or 0, o.modified_at or 0) for o in self.workspace.list(path)]

    def upload_file(self, path: str, source: Path, *, overwrite: bool = False) -> None:
        kind = file_kind(path)
        with self._errors(path):
            if kind == "dbfs":
                return self._upload_dbfs(path, Path(source), overwrite)
            if kind == "volumes":
                self.client.files.upload_from(path, str(source), overwrite=overwrite, use_parallel=False)
                return
        self.workspace.mkdirs(path.rsplit("/", 1)[0] or "/")  # files land in missing folders, as on DBFS and Volumes
        self.workspace.import_object(path, Path(source).read_bytes(), format="AUTO", overwrite=overwrite)  # import takes one body

    def _upload_dbfs(self, path: str, source: Path, overwrite: bool) -> None:
        """Stream into a hidden temporary name beside `path`, then move it into place: a killed
        upload never leaves a half-written file under the final name (DBFS move is atomic)."""
        if not overwrite and self._exists(path):
            raise AlreadyExists(f"{path} already exists.", "pass overwrite to replace it")
        folder, name = path.rsplit("/", 1)
        temporary = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
        try:
            self._upload_dbfs_blocks(temporary, source)
            if overwrite:
                with contextlib.suppress(DatabricksError):
                    self._dbfs.delete(path)
            try:
                self._dbfs.move(temporary, path)
            except DatabricksError as exc:
                # a retried move (after a dropped connection) finds its source gone: the first went through
                if not (isinstance(translate_error(exc, path), NotFound) and self._exists(path)):
                    raise
        finally:
            with contextlib.suppress(DatabricksError):
                self._dbfs.delete(temporary)  # gone after the move; left over only when something failed
        self._remove_dead_temporaries(folder, path)

    def _remove_dead_temporaries(self, folder: str, fresh: str) -> None:
        """Delete temporaries that killed uploads left in `folder`: those last written more than a DBFS
        handle's idle timeout before the file just uploaded (server clock on both sides), which no
        live upload can still write or move."""
        with contextlib.suppress(DatabricksError, BricktasksError):  # tidying; never fail an upload for it
            entries = self.list_files(folder)
            now = max((entry.modified_at for entry in entries if entry.path == fresh), default=0)
            for entry in entries:
                if _TEMPORARY.fullmatch(entry.path.rsplit("/", 1)[1]) and entry.modified_at < now - DBFS_HANDLE_IDLE_MS:
                    self._dbfs.delete(entry.path)

    def _exists(self, path: str) -> bool:
        try:
            self.file_status(path)
        except NotFound:
            return False
        return True

    def _upload_dbfs_blocks(self, path: str, source: Path) -> None:
        """create / add-block / close, checked: a retried add-block (the SDK retries dropped
        connections) appends its block twice, and a retried close finds its handle gone."""
        size = source.stat().st_size
        for _attempt in range(3):
            handle = self._dbfs.create(path, overwrite=True).handle
            if handle is None:
                raise BackendError(f"{path}: DBFS create answered no handle")
            with open(source, "rb") as stream:
                for block in iter(lambda: stream.read(DBFS_BLOCK), b""):  # bounded memory: one block
                    self._dbfs.add_block(handle, base64.b64encode(block).decode())
            try:
                self._dbfs.close(handle)
            except DatabricksError as exc:
                if not isinstance(translate_error(exc, path), NotFound):
                    raise  # NotFound: an earlier try of this close went through; the size check decides
            if (self._dbfs.get_status(path).file_size or 0) == size:
                return
        raise TransientError(f"{path}: the uploaded size kept differing from {source.name}'s", "retry the upload")

    def read_file(self, path: str) -> bytes:
        kind = file_kind(path)
        with self._errors(path):
            if kind == "dbfs":
                size, chunks, offset = self._dbfs.get_status(path).file_size or 0, [], 0
                while offset < size:
                    answer = self._dbfs.read(path, offset=offset, length=DBFS_BLOCK)
                    if not answer.bytes_read:
                        break  # the file shrank meanwhile
                    chunks.append(base64.b64decode(answer.data or ""))
                    offset += answer.bytes_read
                return b"".join(chunks)
            if kind == "volumes":
                contents = self.client.files.download(path).contents
                if contents is None:
                    raise BackendError(f"{path}: the download answered no content")
                return contents.read()
        return self.workspace.export(path)

    def move_file(self, source: str, destination: str, *, overwrite: bool = False) -> None:
        kind = file_kind(source)
        if file_kind(destination) != kind:
            raise InvalidRequest(f"cannot move {source} to {destination}: they are on different file systems")
        self.file_status(source)  # NotFound first, as everywhere
        if overwrite:
            with contextlib.suppress(NotFound):
                self.delete_file(destination)
        elif kind != "dbfs" and self._exists(destination):
            raise AlreadyExists(f"{destination} already exists.", "pass overwrite to replace it")
        if kind == "dbfs":
            with self._errors(destination):
                self._dbfs.move(source, destination)
            return
        # Volumes and workspace files have no rename: copy (streamed through a local file), then delete
        with tempfile.TemporaryDirectory(prefix="bricktasks-move-") as folder:
            local = Path(folder) / "file"
            if kind == "volumes":
                with self._errors(source):
                    self.client.files.download_to(source, str(local))
            else:
                local.write_bytes(self.workspace.export(source))
            self.upload_file(destination, local, overwrite=overwrite)
        self.delete_file(source)

    def delete_file(self, path: str, *, recursive: bool = False) -> None:
        kind = file_kind(path)
        if kind == "workspace":
            return self.workspace.delete(path, recursive=recursive)
        status = self.file_status(path)  # DBFS deletes a missing path silently; we say NotFound
        with self._errors(path):
            if kind == "dbfs":
                try:
                    self._dbfs.delete(path, recursive=recursive)
                except DatabricksError as exc:
                    if error_code(exc) == "IO_ERROR" and not recursive:
                        raise DirectoryNotEmpty(f"{path} is not empty.", "pass recursive to delete its contents") from None
                    raise
                return
            if not status.is_dir:
                self.client.files.delete(path)
                return
            if recursive:
                for entry in self.list_files(path):
                    self.delete_file(entry.path, recursive=True)
            self.client.files.delete_directory(path)

    def mkdirs_files(self, path: str) -> None:
        kind = file_kind(path)
        if kind == "workspace":
            return self.workspace.mkdirs(path)
        with self._errors(path):
            if kind == "dbfs":
                self._dbfs.mkdirs(path)
            else:
                self.client.files.create_directory(path)


def _ms(http_date: str | None) -> int:
    if not http_date:
        return 0
    try:
        return int(email.utils.parsedate_to_datetime(http_date).timestamp() * 1000)
    except (TypeError, ValueError):
        return 0


def _dbfs_entry(listed: str, info) -> FileInfo:
    """A DBFS list entry under the caller's `dbfs:/` spelling (listing a file answers the file)."""
    plain = listed[len("dbfs:"):].rstrip("/") or "/"
    path = listed if info.path.rstrip("/") == plain else f"{listed.rstrip('/')}/{os.path.basename(info.path.rstrip('/'))}"
    return FileInfo(path, bool(info.is_dir), info.file_size or 0, info.modification_time or 0)
