"""The Databricks backend: the Backend interface over databricks-sdk (its workspace, jobs and files services).

Auth is the SDK's unified auth, configured explicitly (never through os.environ): a host and
token, a `~/.databrickscfg` profile, or whatever the SDK resolves from the environment
(OAuth included). SDK errors become `bricktasks.errors` types with a hint at the boundary;
the token never appears in a message or repr.

Choices that differ from the obvious SDK call, and why:
- Notebooks import as SOURCE with their language; other files as AUTO, and an overwrite the
  API refuses with RESOURCE_ALREADY_EXISTS (databricks/cli#3386) is retried as delete + import.
- Files (DBFS, Volumes, workspace files) live in the `DatabricksFiles` mixin (databricks_files.py).
- Runs are submitted without `.result()`: our own wait loop owns waiting and cancelling.
"""
from __future__ import annotations

import contextlib
import itertools
import os
from typing import Callable, Iterator

from bricktasks.backends.base import NOTEBOOK_EXTENSIONS, Backend, ObjectInfo, ObjectType, Run, RunOutput, RunSpec, TaskRun
from bricktasks.backends.databricks_errors import translate_error
from bricktasks.backends.databricks_files import DatabricksFiles
from bricktasks.backends.databricks_sdk import (
    Config, DatabricksError, DbfsAPI, ExportFormat, ImportFormat, Language, SdkClient, jobs_types,
)
from bricktasks.backends.local import notebook_language
from bricktasks.errors import AlreadyExists, BricktasksError, ConfigError, InvalidRequest

__all__ = ["DatabricksBackend", "translate_error"]

MAX_LISTED_RUNS = 250  # list_runs pages through everything; a busy workspace has thousands


# Config() probes the host's /.well-known/databricks-config, a best-effort discovery the SDK falls
# back from, with the retry budget it is given: a whole task's budget would stall start-up for
# minutes on an unreachable host before the first real request could say so.
HOST_PROBE_SECONDS = 10
# sync lists up to 32 folders at once (bricktasks.sync.LIST_WORKERS); the SDK's default pool holds 20
CONNECTIONS = 32


def _build_config(host: str | None, token: str | None, profile: str | None, retry: int, http: int) -> Config:
    options: dict[str, object] = {
        "retry_timeout_seconds": min(retry, HOST_PROBE_SECONDS), "http_timeout_seconds": min(http, HOST_PROBE_SECONDS),
        "max_connections_per_pool": CONNECTIONS,
    }
    if host:
        options["host"] = host
    if profile:
        options["profile"] = profile
    if token:
        options["token"] = token
        options["auth_type"] = "pat"  # explicit PAT wins over whatever else the environment holds
    try:
        config = Config(**options)
    except ValueError as exc:
        message = str(exc).replace(token, "***") if token else str(exc)
        raise ConfigError(
            f"cannot configure the Databricks client: {message}",
            "set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE naming a ~/.databrickscfg profile",
        ) from None
    config.retry_timeout_seconds, config.http_timeout_seconds = retry, http  # the budget for real requests
    return config


class DatabricksBackend(DatabricksFiles, Backend):
    """Workspace, files and runs of a real workspace (or the emulator), through databricks-sdk."""

    name = "databricks"

    def __init__(
        self,
        host: str | None = None,
        token: str | None = None,
        profile: str | None = None,
        *,
        retry_timeout_seconds: int = 300,
        http_timeout_seconds: int = 60,
    ) -> None:
        self._secret = token
        self.config = _build_config(host, token, profile, retry_timeout_seconds, http_timeout_seconds)
        self.host = (self.config.host or "").rstrip("/")
        self.profile = profile
        self.client = SdkClient(self.config)
        self._dbfs = DbfsAPI(self.client.api_client)  # the plain API: the mixin adds local-path rules

    def __repr__(self) -> str:
        return f"DatabricksBackend(host={self.host!r}, profile={self.profile!r})"

    @contextlib.contextmanager
    def _errors(self, target: str) -> Iterator[None]:
        try:
            yield
        except BricktasksError:
            raise
        except Exception as exc:  # noqa: BLE001 - every SDK and transport failure is translated here
            raise translate_error(exc, target, self._secret) from None

    # -- workspace -------------------------------------------------------------
    def get_status(self, path: str) -> ObjectInfo:
        with self._errors(path):
            return _object_info(self.client.workspace.get_status(path))

    def list(self, path: str) -> list[ObjectInfo]:
        with self._errors(path):
            return sorted((_object_info(o) for o in self.client.workspace.list(path)), key=lambda o: o.path)

    def mkdirs(self, path: str) -> None:
        with self._errors(path):
            self.client.workspace.mkdirs(path)

    def import_object(
        self, path: str, content: bytes, *, format: str = "AUTO", language: str | None = None, overwrite: bool = False
    ) -> None:
        format = format.upper()
        if format == "AUTO":
            language = notebook_language(os.path.basename(path), content[:64])
            if language is None:
                return self._import_file(path, content, overwrite)
            path, format = path[: -len(NOTEBOOK_EXTENSIONS[language])], "SOURCE"
        if format == "SOURCE" and (language or "").upper() not in NOTEBOOK_EXTENSIONS:
            raise InvalidRequest("SOURCE import needs a language", "pass PYTHON, SQL, SCALA or R")
        with self._errors(path):
            self.client.workspace.upload(
                path, content, format=ImportFormat(format), language=Language(language.upper()) if language else None, overwrite=overwrite
            )

    def _import_file(self, path: str, content: bytes, overwrite: bool) -> None:
        try:
            with self._errors(path):
                self.client.workspace.upload(path, content, format=ImportFormat.AUTO, overwrite=overwrite)
        except AlreadyExists:
            # AUTO + overwrite onto an existing FILE is refused by the real API (databricks/cli#3386)
            if not overwrite or self.get_status(path).object_type is not ObjectType.FILE:
                raise
            self.delete(path)
            with self._errors(path):
                self.client.workspace.upload(path, content, format=ImportFormat.AUTO)

    def export(self, path: str, *, format: str = "SOURCE") -> bytes:
        with self._errors(path):
            return self.client.workspace.download(path, format=ExportFormat(format.upper())).read()

    def delete(self, path: str, *, recursive: bool = False) -> None:
        with self._errors(path):
            self.client.workspace.delete(path, recursive=recursive)

    # -- jobs -------------------------------------------------------------------------
    def submit_run(self, spec: RunSpec) -> int:
        compute, jobs = jobs_types()
        new_cluster = compute.ClusterSpec.from_dict(spec.new_cluster) if spec.new_cluster else None
        libraries = [compute.Library.from_dict(library) for library in spec.libraries] or None
        tasks = [
            jobs.SubmitTask(
                task_key=task.task_key,
                notebook_task=jobs.NotebookTask(
                    notebook_path=task.notebook_path, base_parameters=dict(task.base_parameters) or None, source=jobs.Source.WORKSPACE
                ),
                new_cluster=new_cluster,
                existing_cluster_id=spec.existing_cluster_id,
                libraries=libraries,
                timeout_seconds=spec.timeout_seconds or None,
            )
            for task in spec.tasks
        ]
        with self._errors(spec.run_name):
            # never .result(): the SDK waiter ignores result_state and leaves the run going on timeout
            waiter = self.client.jobs.submit(
                run_name=spec.run_name, tasks=tasks, timeout_seconds=spec.timeout_seconds or None, idempotency_token=spec.idempotency_token
            )
            return int(waiter.run_id)

    def get_run(self, run_id: int) -> Run:
        with self._errors(f"run {run_id}"):
            return _run(self.client.jobs.get_run(run_id))

    def cancel_run(self, run_id: int) -> None:
        with self._errors(f"run {run_id}"):
            self.client.jobs.cancel_run(run_id)  # asynchronous; the Wait it returns is not waited on

    def get_run_output(self, task_run_id: int) -> RunOutput:
        with self._errors(f"run {task_run_id}"):
            output = self.client.jobs.get_run_output(task_run_id)
        notebook = output.notebook_output
        return RunOutput(
            result=notebook.result if notebook else None,
            error=output.error,
            error_trace=output.error_trace,
            logs=output.logs,
            truncated=bool(notebook and notebook.truncated),
        )

    def export_run(self, run_id: int) -> str:
        _, jobs = jobs_types()
        with self._errors(f"run {run_id}"):
            try:
                views = self.client.jobs.export_run(run_id, views_to_export=jobs.ViewsToExport.CODE).views or []
            except DatabricksError as exc:
                run = self.get_run(run_id)  # a multi-task parent: export its first task
                if not isinstance(translate_error(exc, ""), InvalidRequest) or not run.tasks:
                    raise
                views = self.client.jobs.export_run(run.tasks[0].run_id, views_to_export=jobs.ViewsToExport.CODE).views or []
        return views[0].content or "" if views else ""

    def list_runs(self, *, active_only: bool = False) -> list[Run]:
        _, jobs = jobs_types()
        with self._errors("runs"):
            found = self.client.jobs.list_runs(active_only=active_only or None, expand_tasks=True, run_type=jobs.RunType.SUBMIT_RUN)
            return sorted((_run(run) for run in itertools.islice(found, MAX_LISTED_RUNS)), key=lambda r: r.run_id, reverse=True)

    @contextlib.contextmanager
    def throttle_listener(self, listener: Callable[[], None]) -> Iterator[None]:
        def hook(response, *args, **kwargs):
            if response.status_code == 429:
                listener()

        session = self._session()
        if session is None:
            yield
            return
        session.hooks["response"].append(hook)
        try:
            yield
        finally:  # a later sync on the same backend must not feed a finished one's pool
            session.hooks["response"].remove(hook)

    def _session(self):
        """The SDK's requests session (private to the SDK): every attempt, retries included, passes here."""
        return getattr(getattr(self.client.api_client, "_api_client", None), "_session", None)

    def close(self) -> None:
        session = self._session()
        if session is not None:
            session.close()


def _object_info(info) -> ObjectInfo:
    kind = info.object_type.value if info.object_type else "FILE"
    object_type = ObjectType.DIRECTORY if kind in ("DIRECTORY", "REPO") else ObjectType.NOTEBOOK if kind == "NOTEBOOK" else ObjectType.FILE
    return ObjectInfo(
        path=info.path,
        object_type=object_type,
        language=info.language.value if info.language and object_type is ObjectType.NOTEBOOK else None,
        size=info.size if object_type is ObjectType.FILE else None,
        modified_at=info.modified_at,
        object_id=info.object_id,
    )


def _state(state) -> tuple[str, str | None, str]:
    if state is None:
        return "PENDING", None, ""
    life = state.life_cycle_state.value if state.life_cycle_state else "PENDING"
    result = state.result_state.value if state.result_state else None
    return life, result, state.state_message or ""


def _run(run) -> Run:
    life, result, message = _state(run.state)
    tasks = tuple(TaskRun(t.task_key, t.run_id, *_state(t.state)) for t in run.tasks or [])
    return Run(
        run_id=run.run_id,
        run_name=run.run_name or "",
        life_cycle_state=life,
        result_state=result,
        state_message=message,
        run_page_url=run.run_page_url,
        start_time=run.start_time or 0,
        end_time=run.end_time or 0,
        tasks=tasks,
    )
