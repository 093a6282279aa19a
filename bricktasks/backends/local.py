"""The local backend: a folder on disk with Databricks workspace, DBFS and Volumes semantics.

Notebook rule (as the Workspace API's AUTO format): a `.py`/`.sql`/`.scala`/`.r` file that
starts with its language's `Databricks notebook source` header is a NOTEBOOK at the path
without the extension; any other file is a FILE under its full name. Every write goes to a
temporary name first and is then renamed, so a reader never sees half a file. Writes to one
folder's objects (import, mkdirs, delete) hold that folder's lock, across threads and processes:
the FILE `x`, the NOTEBOOK `x` (`x.py` on disk) and the folder `x` are one workspace path, so
two writers racing on it leave exactly one object, as the workspace does.
"""
from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bricktasks.backends.base import (
    MAX_IMPORT_BYTES,
    NOTEBOOK_EXTENSIONS,
    NOTEBOOK_HEADERS,
    Backend,
    FileInfo,
    Job,
    ObjectInfo,
    ObjectType,
    Run,
    RunOutput,
    RunSpec,
    notebook_language,
)
from bricktasks.backends.local_catalog import LOCAL_USER, LocalCatalog
from bricktasks.backends.local_jobs import JobRunRequest, LocalJobStore, job_run_spec
from bricktasks.backends.local_paths import LocalPaths
from bricktasks.backends.local_repair import RepairRequest, check_spec
from bricktasks.backends.local_runs import LocalRunStore, now_ms
from bricktasks.backends.local_tracking import file_store_metrics
from bricktasks.backends.notebook_export import (
    check_export_format,
    export_file,
    export_folder,
    export_notebook,
    ipynb_notebook_path,
    notebook_from_import,
)
from bricktasks.errors import AlreadyExists, DirectoryNotEmpty, InvalidRequest, NotFound

__all__ = ["LocalBackend"]

TEMP_PREFIX = ".bricktasks-tmp-"


def _mtime_ms(stat: os.stat_result) -> int:
    return int(stat.st_mtime * 1000)


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(64)


def _atomic_write(target: Path, content: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _vanished_is_not_found(path: str):
    """A folder or file deleted under us (a racing delete) is the API's 404, not an OSError."""
    try:
        yield
    except FileNotFoundError:
        raise NotFound(f"Path ({path}) doesn't exist.") from None


def _remove_tree(disk: Path) -> None:
    """rmtree that lets a racing delete take entries first; the folder itself gone is NotFound (above)."""
    def skip_vanished(function, name, error_info) -> None:
        if not isinstance(error_info[1], FileNotFoundError) or Path(name) == disk:
            raise error_info[1]

    shutil.rmtree(disk, onerror=skip_vanished)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a folder (flock on the folder itself: no lock file is left behind).
    Each holder opens the folder anew, so threads of one process exclude each other as processes do;
    closing the descriptor releases the lock, even when the holder is killed."""
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent  # a folder still to be made: its nearest existing ancestor stands for it
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class LocalBackend(Backend):
    """Workspace, files and runs in a folder; the embedded default and the emulator's state.

    `cluster_start_s` models compute start-up: a task on a new cluster stays PENDING ("Waiting for
    cluster") that long before it starts; serverless tasks and existing clusters start at once."""

    name = "local"

    def __init__(
        self, root: Path, *, secrets: dict[str, dict[str, str]] | None = None, cluster_start_s: float = 0.0,
        clusters: frozenset[str] | None = None, user_name: str = LOCAL_USER,
    ) -> None:
        self.paths = LocalPaths(root)
        self.paths.ensure()
        # `clusters`: the cluster ids an existing_cluster_id may name (None: any); a run naming
        # another one fails at once, as on Databricks
        self.runs = LocalRunStore(self.paths, secrets, cluster_start_s=cluster_start_s, clusters=clusters)
        self.secret_scopes = self.runs.secret_store  # the stored scopes every run reads (see local_secrets)
        self.jobs = LocalJobStore(self.paths.jobs, creator=user_name)
        self.catalog = LocalCatalog(self.paths, owner=user_name)  # Unity Catalog's catalogs, schemas and volumes (the emulator's)

    @property
    def root(self) -> Path:
        return self.paths.root

    # -- workspace -----------------------------------------------------------
    def _locate(self, path: str) -> tuple[ObjectType, Path, str | None]:
        """Find the disk file behind a workspace path: (type, file, notebook language)."""
        disk = self.paths.workspace_path(path)
        with _vanished_is_not_found(path):  # deleted between the look and the read
            if disk.is_dir():
                return ObjectType.DIRECTORY, disk, None
            if disk.is_file() and notebook_language(disk.name, _head(disk)) is None:
                return ObjectType.FILE, disk, None
            for language, extension in NOTEBOOK_EXTENSIONS.items():
                candidate = disk.with_name(disk.name + extension)
                if candidate.is_file() and notebook_language(candidate.name, _head(candidate)) == language:
                    return ObjectType.NOTEBOOK, candidate, language
        raise NotFound(f"Path ({path}) doesn't exist.")

    def _info(self, path: str, kind: ObjectType, disk: Path, language: str | None) -> ObjectInfo:
        stat = disk.stat()
        return ObjectInfo(
            path=path,
            object_type=kind,
            language=language,
            size=stat.st_size if kind is ObjectType.FILE else None,
            modified_at=_mtime_ms(stat),
            object_id=stat.st_ino,
        )

    def get_status(self, path: str) -> ObjectInfo:
        path = _clean(path)
        kind, disk, language = self._locate(path)
        return self._info(path, kind, disk, language)

    def list(self, path: str) -> list[ObjectInfo]:
        path = _clean(path)
        kind, disk, language = self._locate(path)
        if kind is not ObjectType.DIRECTORY:
            return [self._info(path, kind, disk, language)]
        objects = []
        with _vanished_is_not_found(path):
            entries = sorted(disk.iterdir())
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                continue
            child = f"{path.rstrip('/')}/{entry.name}"
            try:
                if entry.is_dir():
                    objects.append(self._info(child, ObjectType.DIRECTORY, entry, None))
                    continue
                language = notebook_language(entry.name, _head(entry))
                if language:
                    objects.append(self._info(child[: -len(NOTEBOOK_EXTENSIONS[language])], ObjectType.NOTEBOOK, entry, language))
                else:
                    objects.append(self._info(child, ObjectType.FILE, entry, None))
            except FileNotFoundError:  # deleted while we listed: as if listed a moment later
                continue
        return objects

    def mkdirs(self, path: str) -> None:
        path = _clean(path)
        with _folder_lock(self.paths.workspace_path(path).parent):
            self._make_folder(path)

    def _make_folder(self, path: str) -> None:
        try:
            kind, _, _ = self._locate(path)
        except NotFound:
            kind = ObjectType.DIRECTORY
        if kind is not ObjectType.DIRECTORY:
            raise AlreadyExists(f"Cannot create {path}: a {kind.value.lower()} is in the way.")
        _mkdirs(self.paths.workspace_path(path), path)

    def import_object(
        self, path: str, content: bytes, *, format: str = "AUTO", language: str | None = None, overwrite: bool = False
    ) -> None:
        with _folder_lock(self.paths.workspace_path(_clean(path)).parent):
            self._import(path, content, format=format, language=language, overwrite=overwrite)

    def _import(self, path: str, content: bytes, *, format: str, language: str | None, overwrite: bool) -> None:
        path = _clean(path)
        format = format.upper()
        disk = self.paths.workspace_path(path)
        if format == "AUTO":
            language = notebook_language(disk.name, content[:64])
            if language:
                path = path[: -len(NOTEBOOK_EXTENSIONS[language])]
                disk = self.paths.workspace_path(path)
            elif (stem := ipynb_notebook_path(path, content)) is not None:
                content, language = notebook_from_import(content, "JUPYTER")
                path, disk = stem, self.paths.workspace_path(stem)
        elif format in ("JUPYTER", "HTML"):
            content, language = notebook_from_import(content, format)
        elif format == "SOURCE":
            language = (language or "").upper()
            if language not in NOTEBOOK_EXTENSIONS:
                raise InvalidRequest("SOURCE import needs a language", "pass PYTHON, SQL, SCALA or R")
            header = NOTEBOOK_HEADERS[language].encode()
            if not content.lstrip(b"\xef\xbb\xbf").startswith(header):
                content = header + b"\n" + content
        elif format in ("RAW",):
            language = None
        else:
            raise InvalidRequest(f"import format {format} is not supported here", "use AUTO, SOURCE, JUPYTER, HTML or RAW")
        if len(content) > MAX_IMPORT_BYTES:
            raise InvalidRequest(f"{path} is larger than the 10 MB import limit", "put large files on a Volume or DBFS")
        if not disk.parent.is_dir():
            raise NotFound(f"The parent folder ({_parent(path)}) does not exist.")
        try:
            existing, _, _ = self._locate(path)
        except NotFound:
            existing = None
        target = disk.with_name(disk.name + NOTEBOOK_EXTENSIONS[language]) if language else disk
        wanted = ObjectType.NOTEBOOK if language else ObjectType.FILE
        if existing is not None:
            if not overwrite:
                raise AlreadyExists(f"Path ({path}) already exists.", "pass overwrite to replace it")
            if existing is not wanted:  # as Databricks: overwrite replaces an object by one of its own type only
                raise AlreadyExists(f"Path ({path}) already exists as a {existing.value.lower()}.", "delete it first")
        elif target.exists():
            # notebook `a` is kept on disk as `a.py`, where a FILE `a.py` would be: refuse rather than
            # silently replace one by the other (the workspace would keep both)
            raise AlreadyExists(f"Path ({path}) is in the way of another object here.", "delete it first")
        _atomic_write(target, content)

    def export(self, path: str, *, format: str = "SOURCE") -> bytes:
        path = _clean(path)
        format = check_export_format(format)
        kind, disk, language = self._locate(path)
        if kind is ObjectType.DIRECTORY:
            return export_folder(self, path, format)
        with _vanished_is_not_found(path):
            content = disk.read_bytes()
        if kind is ObjectType.NOTEBOOK and language:
            return export_notebook(content, language, os.path.basename(path), format)
        return export_file(content, path, format)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        path = _clean(path)
        with _folder_lock(self.paths.workspace_path(path).parent):
            self._delete(path, recursive=recursive)

    def _delete(self, path: str, *, recursive: bool) -> None:
        kind, disk, _ = self._locate(path)
        with _vanished_is_not_found(path):
            if kind is ObjectType.DIRECTORY:
                if any(disk.iterdir()) and not recursive:
                    raise DirectoryNotEmpty(f"Folder ({path}) is not empty.", "pass recursive to delete its contents")
                _remove_tree(disk)
            else:
                disk.unlink()

    # -- files -------------------------------------------------------------------
    def _file_info(self, path: str, disk: Path) -> FileInfo:
        stat = disk.stat()
        return FileInfo(path=path, is_dir=disk.is_dir(), size=0 if disk.is_dir() else stat.st_size, modified_at=_mtime_ms(stat))

    def file_status(self, path: str) -> FileInfo:
        disk = self.paths.file_path(path)
        if not disk.exists():
            raise NotFound(f"{path} does not exist.")
        return self._file_info(path, disk)

    def list_files(self, path: str) -> builtins.list[FileInfo]:
        disk = self.paths.file_path(path)
        if not disk.exists():
            raise NotFound(f"{path} does not exist.")
        if disk.is_file():
            return [self._file_info(path, disk)]
        with _vanished_is_not_found(path):
            entries = sorted(disk.iterdir())
        listed = []
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                listed.append(self._file_info(f"{path.rstrip('/')}/{entry.name}", entry))
            except FileNotFoundError:  # deleted while we listed
                continue
        return listed

    def upload_file(self, path: str, source: Path, *, overwrite: bool = False) -> None:
        disk = self.paths.file_path(path)
        if disk.is_dir():
            raise AlreadyExists(f"{path} is a folder.")
        if disk.exists() and not overwrite:
            raise AlreadyExists(f"{path} already exists.", "pass overwrite to replace it")
        disk.parent.mkdir(parents=True, exist_ok=True)  # DBFS and Volumes create parents on write
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=disk.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
            os.replace(temp, disk)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def read_file(self, path: str) -> bytes:
        disk = self.paths.file_path(path)
        if not disk.is_file():
            raise NotFound(f"{path} does not exist.")
        return disk.read_bytes()

    def move_file(self, source: str, destination: str, *, overwrite: bool = False) -> None:
        src, dst = self.paths.file_path(source), self.paths.file_path(destination)
        if not src.exists():
            raise NotFound(f"{source} does not exist.")
        if dst.exists() and not overwrite:
            raise AlreadyExists(f"{destination} already exists.", "pass overwrite to replace it")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)

    def delete_file(self, path: str, *, recursive: bool = False) -> None:
        disk = self.paths.file_path(path)
        if not disk.exists():
            raise NotFound(f"{path} does not exist.")
        with _vanished_is_not_found(path):
            if disk.is_dir():
                if any(disk.iterdir()) and not recursive:
                    raise DirectoryNotEmpty(f"{path} is not empty.", "pass recursive to delete its contents")
                _remove_tree(disk)
            else:
                disk.unlink()

    def mkdirs_files(self, path: str) -> None:
        _mkdirs(self.paths.file_path(path), path)

    # -- jobs ---------------------------------------------------------------------
    def submit_run(self, spec: RunSpec) -> int:
        check_spec(spec)  # the graph first: nothing is looked up or written for an invalid one
        for task in spec.tasks:
            self.get_status(task.notebook_path)  # NotFound before anything starts, as the API does
        return self.runs.submit(spec)

    def get_run(self, run_id: int) -> Run:
        return self.runs.get(run_id)

    def cancel_run(self, run_id: int) -> None:
        self.runs.cancel(run_id)

    def repair_run(
        self, run_id: int, *, rerun_tasks: Sequence[str] = (), rerun_all_failed_tasks: bool = False,
        rerun_dependent_tasks: bool = False, latest_repair_id: int | None = None,
    ) -> int:
        request = RepairRequest(tuple(rerun_tasks), rerun_all_failed_tasks, rerun_dependent_tasks, latest_repair_id)
        return self.runs.repair(run_id, request)

    def get_run_output(self, task_run_id: int) -> RunOutput:
        return self.runs.output(task_run_id)

    def export_run(self, run_id: int) -> str:
        return self.runs.export_html(run_id)

    def list_runs(self, *, active_only: bool = False, job_id: int | None = None, limit: int | None = None) -> builtins.list[Run]:
        runs = self.runs.list(active_only=active_only, job_id=job_id)
        return runs if limit is None else runs[:limit]

    # -- saved jobs ---------------------------------------------------------------
    def create_job(self, settings: dict[str, Any]) -> int:
        return self.jobs.create(settings, created_time=now_ms())

    def get_job(self, job_id: int) -> Job:
        return self.jobs.get(job_id)

    def list_jobs(self, *, name: str | None = None) -> builtins.list[Job]:
        return self.jobs.list(name=name)

    def reset_job(self, job_id: int, settings: dict[str, Any]) -> None:
        self.jobs.reset(job_id, settings)

    def update_job(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: Sequence[str] = ()) -> None:
        self.jobs.update(job_id, new_settings, fields_to_remove)

    def delete_job(self, job_id: int) -> None:
        self.jobs.delete(job_id)  # its runs stay: they are run records, not the job's

    def run_now(
        self, job_id: int, *, job_parameters: dict[str, str] | None = None, notebook_params: dict[str, str] | None = None,
        idempotency_token: str | None = None, trigger: str = "ONE_TIME",
    ) -> int:
        """As the base's; `trigger` PERIODIC for a schedule's firing (the emulator's --run-schedules)."""
        job = self.jobs.get(job_id)
        spec, resolved = job_run_spec(
            job, notebook_params=notebook_params, job_parameters=job_parameters, idempotency_token=idempotency_token
        )
        check_spec(spec)
        for task in spec.tasks:
            self.get_status(task.notebook_path)  # NotFound before anything starts, as for a one-time run
        queue = job.settings.get("queue") or {}
        request = JobRunRequest(
            job_id=job.job_id, max_concurrent_runs=int(job.settings.get("max_concurrent_runs", 1)),
            queue_enabled=bool(queue.get("enabled")), job_parameters=resolved, notebook_params=notebook_params,
            trigger=trigger,
        )
        return self.runs.submit(spec, job=request)

    def task_result(self, task_run_id: int) -> dict[str, Any] | None:
        """The runtime's detailed result of a task run (cells, outputs), for reports."""
        return self.runs.result(task_run_id)

    def run_log_location(self, run_id: int) -> str | None:
        """The run's folder under `<root>/runs`: the supervisor's log, each task's stdout."""
        return str(self.runs.run_dir(run_id))

    def tracked_metrics(self, mlflow_run_id: str) -> dict[str, float] | None:
        """From the MLflow file store the local runs log to, under the root."""
        return file_store_metrics(self.root, mlflow_run_id)


def _clean(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidRequest(f"workspace path {path!r} is not absolute", "paths start with /")
    return path.rstrip("/") or "/"


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _mkdirs(disk: Path, path: str) -> None:
    probe = disk
    while probe != probe.parent and not probe.exists():
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise AlreadyExists(f"Cannot create {path}: a file is in the way.")
    disk.mkdir(parents=True, exist_ok=True)
