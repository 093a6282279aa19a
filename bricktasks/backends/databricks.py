"""The Databricks backend: the Backend interface over databricks-sdk (its workspace, jobs and files services).

Auth is the SDK's unified auth, configured explicitly (never through os.environ): a host and
token, a `~/.databrickscfg` profile, or whatever the SDK resolves from the environment
(OAuth included). SDK errors become `bricktasks.errors` types with a hint at the boundary;
the token never appears in a message or repr.

Choices that differ from the obvious SDK call, and why:
- Notebooks import as SOURCE with their language; other files as AUTO, and an overwrite the
  API refuses with RESOURCE_ALREADY_EXISTS (databricks/cli#3386) is retried as delete + import.
- Files (DBFS, Volumes, workspace files) live in a `DatabricksFiles` the backend holds and
  forwards to (databricks_files.py).
- Runs are submitted without `.result()`: our own wait loop owns waiting and cancelling.
"""
from __future__ import annotations

import builtins
import contextlib
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests.utils

from bricktasks import interrupts
from bricktasks.backends.base import (
    NOTEBOOK_EXTENSIONS,
    Backend,
    FileInfo,
    Job,
    ObjectInfo,
    ObjectType,
    RepairAttempt,
    Run,
    RunOutput,
    RunSpec,
    TaskRun,
    notebook_language,
)
from bricktasks.backends.databricks_errors import translate_error
from bricktasks.backends.databricks_files import DatabricksFiles
from bricktasks.backends.databricks_sdk import (
    Config,
    DatabricksError,
    DbfsAPI,
    ExportFormat,
    ImportFormat,
    Language,
    SdkClient,
    jobs_types,
)
from bricktasks.backends.host_metadata import FIELDS as METADATA_FIELDS
from bricktasks.backends.host_metadata import HostMetadataCache
from bricktasks.backends.submit_json import submit_body
from bricktasks.errors import AlreadyExists, BricktasksError, ConfigError, InvalidRequest, TransientError

__all__ = ["DatabricksBackend", "HostUnreachable", "check_reachable", "translate_error"]

MAX_LISTED_RUNS = 250  # list_runs pages through everything; a busy workspace has thousands


# Config() probes the host's /.well-known/databricks-config, a best-effort discovery the SDK falls
# back from, with the retry budget it is given: a whole task's budget would stall start-up for
# minutes on an unreachable host before the first real request could say so. The SDK retries a
# refused connection within it, 1-2 s later: 1 s is a single attempt (check_reachable, before the
# first real request, then says what is wrong).
HOST_PROBE_SECONDS = 1
HOST_PROBE_HTTP_SECONDS = 5
# a TCP connect that gets no answer in this long is a blackhole (a firewall, a VPN that is down):
# a reachable workspace answers a connect in well under a second, from anywhere
CONNECT_SECONDS = 5
_HOST_HINT = "check DATABRICKS_HOST (or the host of the ~/.databrickscfg profile), the network, VPN and proxy settings"
# sync lists up to 32 folders at once (bricktasks.workspace.sync.LIST_WORKERS); the SDK's default pool holds 20
CONNECTIONS = 32


class _ProbeFailure(logging.Filter):
    """Silences the SDK's line for a failed host-metadata probe, and notes that it failed. The failure
    is no news (the SDK falls back, check_reachable speaks for a dead host): not a second line on stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to automatically resolve config from host metadata"):
            self.seen = True
            return False
        return True


class _RememberingConfig(Config):
    """The SDK's Config, its host-metadata probe answered from `HostMetadataCache` when the host
    answered it within the day (see host_metadata: the probe is a request before every task's first)."""

    def __init__(self, metadata_cache: HostMetadataCache | None, **options: Any) -> None:
        self._metadata_cache = metadata_cache  # before Config's __init__, which probes
        super().__init__(**options)

    @classmethod
    def attributes(cls) -> Any:
        # Config finds its settings in its own class __dict__ and caches them on the class asked:
        # asked of a subclass first, it would find none (no host, no token read from the environment)
        return Config.attributes()

    def _resolve_host_metadata(self) -> None:
        cache = self._metadata_cache
        remembered = cache.read(self.host) if cache is not None and self.host else None
        if remembered is not None:
            for name, value in remembered.items():
                if not getattr(self, name):  # as the SDK: only what the configuration left unset
                    setattr(self, name, value)
            return
        before = {name: getattr(self, name) for name in METADATA_FIELDS}
        failure = _ProbeFailure()
        sdk_logger = logging.getLogger("databricks.sdk")
        sdk_logger.addFilter(failure)
        try:
            super()._resolve_host_metadata()
        finally:
            sdk_logger.removeFilter(failure)
        if cache is not None and self.host and not failure.seen:
            filled = {name: getattr(self, name) for name in METADATA_FIELDS if getattr(self, name) != before[name]}
            cache.write(self.host, {name: str(getattr(value, "value", value)) for name, value in filled.items()})


class _ConfigOptions(TypedDict, total=False):
    """The Config keywords _build_config sets."""

    retry_timeout_seconds: int
    http_timeout_seconds: int
    max_connections_per_pool: int
    host: str
    profile: str
    token: str
    auth_type: str


def _build_config(host: str | None, token: str | None, profile: str | None, retry: int, http: int,
                  metadata_cache: HostMetadataCache | None) -> Config:
    options: _ConfigOptions = {
        "retry_timeout_seconds": min(retry, HOST_PROBE_SECONDS), "http_timeout_seconds": min(http, HOST_PROBE_HTTP_SECONDS),
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
        config = _RememberingConfig(metadata_cache, **options)
    except ValueError as exc:
        message = str(exc).replace(token, "***") if token else str(exc)
        raise ConfigError(
            f"cannot configure the Databricks client: {message}",
            "set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE naming a ~/.databrickscfg profile",
        ) from None
    config.retry_timeout_seconds, config.http_timeout_seconds = retry, http  # the budget for real requests
    return config


class HostUnreachable(ConfigError):
    """The workspace host does not resolve, refuses connections or answers nothing: exit 2, nothing changed."""


def check_reachable(host: str, *, connect_s: float = CONNECT_SECONDS) -> None:
    """Resolve the host and open (then close) a TCP connection to it, before any request.

    The SDK retries a refused or timed-out connection for its whole retry budget (5 minutes by
    default): right for a workspace that blips, wrong for a host that was never there (a typo, a
    name that does not resolve, a VPN that is down). No HTTP request is made. Skipped when a proxy
    is configured for the host: then only the proxy can reach it, and the SDK's requests go there."""
    parts = urlsplit(host if "://" in host else f"https://{host}")
    try:
        name, port = parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:
        return  # a malformed port: the SDK's own configuration check says so
    if not name or requests.utils.get_environ_proxies(f"{parts.scheme}://{parts.netloc}"):
        return
    shown = f"{parts.scheme}://{parts.netloc}"
    try:
        socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise HostUnreachable(f"cannot reach {shown}: the name {name} does not resolve ({reason})", _HOST_HINT) from None
    try:
        socket.create_connection((name, port), timeout=connect_s).close()
    except ConnectionRefusedError:
        raise HostUnreachable(f"cannot reach {shown}: the connection was refused (nothing listens on port {port})", _HOST_HINT) from None
    except TimeoutError:  # socket.timeout is TimeoutError
        raise HostUnreachable(f"cannot reach {shown}: no answer to a connection within {connect_s:g} s", _HOST_HINT) from None
    except OSError as exc:
        raise HostUnreachable(f"cannot reach {shown}: {exc.strerror or exc}", _HOST_HINT) from None


class DatabricksBackend(Backend):
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
        metadata_cache: Path | None = None,
    ) -> None:
        """`metadata_cache`: the file remembering the host's metadata answer (host_metadata), None to ask every time."""
        self._secret = token
        self.config = _build_config(host, token, profile, retry_timeout_seconds, http_timeout_seconds,
                                    HostMetadataCache(metadata_cache) if metadata_cache else None)
        self.host = (self.config.host or "").rstrip("/")
        self._reachable = threading.Lock()  # held while the first request checks the host (once)
        self._checked = False
        self.profile = profile
        self.client = SdkClient(self.config)
        # files composed, not mixed in: the plain DBFS API (our rules for dbfs:/ paths on top), our error boundary
        self.files = DatabricksFiles(self.client, DbfsAPI(self.client.api_client), errors=self._errors, workspace=self)
        self._budget = (retry_timeout_seconds, http_timeout_seconds)
        self._silent_since_hurry = False  # the host failed to answer a request made in a hurry

    def __repr__(self) -> str:
        return f"DatabricksBackend(host={self.host!r}, profile={self.profile!r})"

    @contextlib.contextmanager
    def _errors(self, target: str) -> Iterator[None]:
        if not self._checked:
            self._check_host()
        hurried = self._set_budget(interrupts.hurried())
        if hurried and self._silent_since_hurry:
            # after a signal, a host that did not answer once is not waited for again
            raise TransientError(f"{target}: not sent: {self.host} stopped answering", _HOST_HINT)
        try:
            yield
        except BricktasksError:
            raise
        except Exception as exc:  # noqa: BLE001 - every SDK and transport failure is translated here
            if hurried and not isinstance(exc, DatabricksError):
                self._silent_since_hurry = True
            raise translate_error(exc, target, self._secret) from None

    def _check_host(self) -> None:
        """check_reachable before the first request (of any thread): a dead host is exit 2 at once."""
        with self._reachable:
            if not self._checked and self.host:
                check_reachable(self.host)
            self._checked = True

    def _set_budget(self, hurried: bool) -> bool:
        """The SDK's retry budget and HTTP timeout for the next requests: short once a signal came
        (or while a cancel is under way), the configured ones otherwise. Read by the SDK per request."""
        base = getattr(self.client.api_client, "_api_client", None)  # the SDK's private base client
        if base is not None:
            short = interrupts.AFTER_SIGNAL_SECONDS
            base._retry_timeout_seconds, base._http_timeout_seconds = (short, short) if hurried else self._budget
        return hurried

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

    # -- files: DBFS, Volumes and workspace files, in self.files ---------------------------
    def file_status(self, path: str) -> FileInfo:
        return self.files.file_status(path)

    def list_files(self, path: str) -> builtins.list[FileInfo]:
        return self.files.list_files(path)

    def upload_file(self, path: str, source: Path, *, overwrite: bool = False) -> None:
        self.files.upload_file(path, source, overwrite=overwrite)

    def read_file(self, path: str) -> bytes:
        return self.files.read_file(path)

    def move_file(self, source: str, destination: str, *, overwrite: bool = False) -> None:
        self.files.move_file(source, destination, overwrite=overwrite)

    def delete_file(self, path: str, *, recursive: bool = False) -> None:
        self.files.delete_file(path, recursive=recursive)

    def mkdirs_files(self, path: str) -> None:
        self.files.mkdirs_files(path)

    def check_volume(self, catalog: str, schema: str, volume: str) -> None:
        # the Unity Catalog API, not the volume's root folder: an empty volume's root answers the
        # Files API's HEAD with 404 on a real workspace (databricks/cli#5834)
        with self._errors(f"volume {catalog}.{schema}.{volume}"):
            self.client.volumes.read(f"{catalog}.{schema}.{volume}")

    # -- jobs -------------------------------------------------------------------------
    def submit_run(self, spec: RunSpec) -> int:
        compute_types, jobs = jobs_types()
        body = submit_body(spec)
        tasks = [jobs.SubmitTask.from_dict(task) for task in body["tasks"]]
        environments = [jobs.JobEnvironment.from_dict(environment) for environment in body.get("environments", [])]
        target = jobs.PerformanceTarget(spec.performance_target) if spec.performance_target else None
        with self._errors(spec.run_name):
            # never .result(): the SDK waiter ignores result_state and leaves the run going on timeout
            waiter = self.client.jobs.submit(
                run_name=spec.run_name, tasks=tasks, timeout_seconds=spec.timeout_seconds or None,
                idempotency_token=spec.idempotency_token, environments=environments or None, performance_target=target,
            )
            return int(waiter.run_id)

    def get_run(self, run_id: int) -> Run:
        with self._errors(f"run {run_id}"):
            # include_history: repair_history, which a repair needs (latest_repair_id)
            return _run(self.client.jobs.get_run(run_id, include_history=True))

    def repair_run(
        self, run_id: int, *, rerun_tasks: Sequence[str] = (), rerun_all_failed_tasks: bool = False,
        rerun_dependent_tasks: bool = False, latest_repair_id: int | None = None,
    ) -> int:
        with self._errors(f"run {run_id}"):
            # never .result(): the caller's own wait loop owns waiting and cancelling
            waiter = self.client.jobs.repair_run(
                run_id, rerun_tasks=list(rerun_tasks) or None, rerun_all_failed_tasks=rerun_all_failed_tasks or None,
                rerun_dependent_tasks=rerun_dependent_tasks or None, latest_repair_id=latest_repair_id,
            )
            return int(waiter.response.repair_id or 0)

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

    def list_runs(self, *, active_only: bool = False, job_id: int | None = None, limit: int | None = None) -> builtins.list[Run]:
        _, jobs = jobs_types()
        # the page size is the limit: the SDK's iterator then stops after one request for the newest run
        page = min(limit, 24) if limit else None  # the reference: "greater than 0 and less than 25"
        with self._errors("runs"):
            if job_id is None:
                found = self.client.jobs.list_runs(
                    active_only=active_only or None, expand_tasks=True, run_type=jobs.RunType.SUBMIT_RUN, limit=page)
            else:
                found = self.client.jobs.list_runs(active_only=active_only or None, expand_tasks=True, job_id=job_id, limit=page)
            listed = itertools.islice(found, min(limit, MAX_LISTED_RUNS) if limit else MAX_LISTED_RUNS)
            return sorted((_run(run) for run in listed), key=lambda r: r.run_id, reverse=True)

    def tracked_metrics(self, mlflow_run_id: str) -> dict[str, float] | None:
        """The workspace's MLflow tracking (runs/get); None where it does not answer (the emulator
        serves no MLflow API) or refuses: the metrics are a report's extra, never a reason to fail."""
        try:
            with self._errors(f"MLflow run {mlflow_run_id}"):
                run = self.client.experiments.get_run(mlflow_run_id).run
        except BricktasksError:
            return None
        logged = (run.data.metrics if run and run.data else None) or []
        return {metric.key: float(metric.value) for metric in logged if metric.key is not None and metric.value is not None}

    def job_page_url(self, job_id: int) -> str | None:
        return f"{str(self.client.config.host).rstrip('/')}/jobs/{job_id}"

    # -- saved jobs: settings travel as JobSettings JSON, through the SDK's own dataclasses ----------
    def create_job(self, settings: dict[str, Any]) -> int:
        _, jobs = jobs_types()
        typed = jobs.JobSettings.from_dict(settings)
        with self._errors(str(settings.get("name") or "job")):
            return int(self.client.jobs.create(**{name: getattr(typed, name) for name in _given(typed, settings)}).job_id)

    def get_job(self, job_id: int) -> Job:
        with self._errors(f"job {job_id}"):
            return _job(self.client.jobs.get(job_id))  # the SDK's mixin follows the arrays' pages

    def list_jobs(self, *, name: str | None = None) -> builtins.list[Job]:
        with self._errors("jobs"):
            return [_job(job) for job in self.client.jobs.list(name=name, expand_tasks=True)]

    def reset_job(self, job_id: int, settings: dict[str, Any]) -> None:
        _, jobs = jobs_types()
        with self._errors(f"job {job_id}"):
            self.client.jobs.reset(job_id, jobs.JobSettings.from_dict(settings))

    def update_job(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: Sequence[str] = ()) -> None:
        _, jobs = jobs_types()
        with self._errors(f"job {job_id}"):
            self.client.jobs.update(
                job_id, new_settings=jobs.JobSettings.from_dict(new_settings), fields_to_remove=list(fields_to_remove) or None
            )

    def delete_job(self, job_id: int) -> None:
        with self._errors(f"job {job_id}"):
            self.client.jobs.delete(job_id)

    def run_now(
        self, job_id: int, *, job_parameters: dict[str, str] | None = None, notebook_params: dict[str, str] | None = None,
        idempotency_token: str | None = None,
    ) -> int:
        with self._errors(f"job {job_id}"):
            # never .result(): the caller's own wait loop owns waiting and cancelling
            waiter = self.client.jobs.run_now(
                job_id, job_parameters=job_parameters, notebook_params=notebook_params, idempotency_token=idempotency_token
            )
            return int(waiter.run_id)

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


def _task_run(task) -> TaskRun:
    notebook = task.notebook_task
    return TaskRun(
        task.task_key, task.run_id, *_state(task.state),
        attempt_number=task.attempt_number or 0,
        start_time=task.start_time or 0,
        end_time=task.end_time or 0,
        depends_on=tuple(dependency.task_key for dependency in task.depends_on or [] if dependency.task_key),
        run_if=task.run_if.value if task.run_if else "ALL_SUCCESS",
        notebook_path=(notebook.notebook_path or "") if notebook else "",
    )


def _repair_attempt(item) -> RepairAttempt:
    return RepairAttempt(
        repair_id=item.id if item.type is None or item.type.value == "REPAIR" else None,
        start_time=item.start_time or 0, end_time=item.end_time or 0, task_run_ids=tuple(item.task_run_ids or ()),
    )


def _given(typed, settings: dict[str, Any]) -> list[str]:
    """The JobSettings fields `settings` gives (jobs.create takes them as keywords, unknown ones dropped by from_dict)."""
    return [name for name in settings if getattr(typed, name, None) is not None]


def _job(job) -> Job:
    return Job(
        job_id=int(job.job_id), settings=job.settings.as_dict() if job.settings else {},
        creator_user_name=job.creator_user_name or "", created_time=int(job.created_time or 0),
    )


def _run(run) -> Run:
    life, result, message = _state(run.state)
    tasks = tuple(_task_run(task) for task in run.tasks or [])
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
        repair_history=tuple(_repair_attempt(item) for item in run.repair_history or []),
        job_id=run.job_id if getattr(run, "run_type", None) is not None and run.run_type.value == "JOB_RUN" else None,
    )
