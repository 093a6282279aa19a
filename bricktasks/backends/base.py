"""The backend interface: workspace objects, files (DBFS, Volumes, workspace files) and one-time runs.

Two implementations: `LocalBackend` (a folder on disk, runs in subprocesses) and
`DatabricksBackend` (databricks-sdk). Both raise the error types of `bricktasks.errors`.
Paths are workspace paths (`/Projects/x/y`), `dbfs:/...` or `/Volumes/...`.
"""
from __future__ import annotations

import abc
import builtins
import contextlib
import enum
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.errors import InvalidRequest

__all__ = [
    "ObjectType",
    "ObjectInfo",
    "FileInfo",
    "NotebookTask",
    "Compute",
    "NewCluster",
    "ExistingCluster",
    "Serverless",
    "compute_from_task_fields",
    "RunSpec",
    "TaskRun",
    "Run",
    "RepairAttempt",
    "RunOutput",
    "Job",
    "Backend",
    "TERMINAL_STATES",
    "NOTEBOOK_EXTENSIONS",
    "NOTEBOOK_HEADERS",
    "file_kind",
    "notebook_language",
    "MAX_IMPORT_BYTES",
]

TERMINAL_STATES = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})

# language -> (file extension, first line of a source notebook)
NOTEBOOK_EXTENSIONS = {"PYTHON": ".py", "SQL": ".sql", "SCALA": ".scala", "R": ".r"}
NOTEBOOK_HEADERS = {
    "PYTHON": "# Databricks notebook source",
    "SQL": "-- Databricks notebook source",
    "SCALA": "// Databricks notebook source",
    "R": "# Databricks notebook source",
}
_EXTENSION_LANGUAGE = {ext: lang for lang, ext in NOTEBOOK_EXTENSIONS.items()}

MAX_IMPORT_BYTES = 10 * 1024 * 1024  # the Workspace API's import limit, for notebooks and files alike


def notebook_language(name: str, head: bytes) -> str | None:
    """The notebook language of a file named `name` starting with `head`, or None for a plain file
    (the Workspace API's AUTO rule: a known extension and its language's header line)."""
    language = _EXTENSION_LANGUAGE.get(os.path.splitext(name)[1].lower())
    if language and head.lstrip(b"\xef\xbb\xbf").startswith(NOTEBOOK_HEADERS[language].encode()):
        return language
    return None


class ObjectType(str, enum.Enum):
    NOTEBOOK = "NOTEBOOK"
    DIRECTORY = "DIRECTORY"
    FILE = "FILE"


@dataclass(frozen=True)
class ObjectInfo:
    """A workspace object, as get-status and list describe it."""

    path: str
    object_type: ObjectType
    language: str | None = None
    size: int | None = None
    modified_at: int | None = None  # epoch milliseconds
    object_id: int | None = None


@dataclass(frozen=True)
class FileInfo:
    """A file or folder on DBFS, a Volume, or a workspace file."""

    path: str
    is_dir: bool
    size: int = 0
    modified_at: int = 0  # epoch milliseconds


@dataclass(frozen=True)
class NotebookTask:
    """One task of a run, in the Jobs API's terms (`tasks[]` of runs/submit).

    `compute` None: the run's `RunSpec.compute`, and where that is None too, serverless (a task
    naming no compute runs on serverless, as on Databricks). `libraries` are this task's own,
    installed after the run's."""

    task_key: str
    notebook_path: str
    base_parameters: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    run_if: str = "ALL_SUCCESS"
    compute: Compute | None = None
    libraries: tuple[dict[str, Any], ...] = ()
    timeout_seconds: int = 0  # 0: no limit of its own
    max_retries: int = 0  # -1: retry forever (as the API allows); 0: never
    min_retry_interval_millis: int = 0
    retry_on_timeout: bool = False


class Compute(abc.ABC):
    """Where a run's tasks run, as one value from `cluster.json` to the backends.

    Each kind says how the Jobs API names it (`to_task_fields`) and `compute_from_task_fields`
    reads those fields back. An instance pool is a `NewCluster` whose spec names
    `instance_pool_id`; a new kind is a subclass here plus its case in `compute_from_task_fields`.
    The definitions, the pipeline and the run stores carry the value without looking inside.
    """

    @abc.abstractmethod
    def to_task_fields(self) -> dict[str, Any]:
        """The fields of a Jobs API task (runs/submit `tasks[]`) that choose this compute."""


@dataclass(frozen=True)
class NewCluster(Compute):
    """A cluster created for the run from a `new_cluster` spec (spark_version, node type, ...)."""

    spec: dict[str, Any]

    def to_task_fields(self) -> dict[str, Any]:
        return {"new_cluster": self.spec}


@dataclass(frozen=True)
class ExistingCluster(Compute):
    """An all-purpose cluster that already exists, by id."""

    cluster_id: str

    def to_task_fields(self) -> dict[str, Any]:
        return {"existing_cluster_id": self.cluster_id}


@dataclass(frozen=True)
class Serverless(Compute):
    """Serverless compute: what a task naming no cluster gets. `environment_key` optionally names
    one of the run's `environments[]`; a notebook task without one uses the notebook's own
    environment (its %pip installs), as on Databricks."""

    environment_key: str | None = None

    def to_task_fields(self) -> dict[str, Any]:
        return {"environment_key": self.environment_key} if self.environment_key else {}


def compute_from_task_fields(fields: Mapping[str, Any]) -> Compute | None:
    """The compute a Jobs API task (or `cluster.json`) names: a cluster, serverless with an
    environment, or None when it names none (which, for a task, means serverless)."""
    if fields.get("new_cluster"):
        return NewCluster(fields["new_cluster"])
    if fields.get("existing_cluster_id"):
        return ExistingCluster(str(fields["existing_cluster_id"]))
    if fields.get("environment_key"):
        return Serverless(str(fields["environment_key"]))
    return None


@dataclass(frozen=True)
class RunSpec:
    """A one-time run (runs/submit): notebook tasks, ordered by their `depends_on`.

    `compute` and `libraries` apply to every task that names no compute of its own / on top of
    each task's own libraries; serverless tasks get no libraries (the API refuses them there)."""

    run_name: str
    tasks: tuple[NotebookTask, ...]
    compute: Compute | None = None
    libraries: tuple[dict[str, Any], ...] = ()
    timeout_seconds: int = 0
    idempotency_token: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    environments: tuple[dict[str, Any], ...] = ()  # [{"environment_key", "spec": {...}}], for serverless tasks
    performance_target: str | None = None  # PERFORMANCE_OPTIMIZED | STANDARD (serverless)

    def task_compute(self, task: NotebookTask) -> Compute:
        """Where `task` runs: its own compute, else the run's, else serverless."""
        return task.compute or self.compute or Serverless()

    def task_libraries(self, task: NotebookTask) -> tuple[dict[str, Any], ...]:
        """The libraries `task` installs: none on serverless (its notebook installs them)."""
        if isinstance(self.task_compute(task), Serverless):
            return ()
        merged = list(self.libraries)
        merged += [library for library in task.libraries if library not in merged]
        return tuple(merged)


@dataclass(frozen=True)
class TaskRun:
    """One attempt of one task, as runs/get reports it (a retried task appears once per attempt)."""

    task_key: str
    run_id: int
    life_cycle_state: str
    result_state: str | None = None
    state_message: str = ""
    attempt_number: int = 0
    start_time: int = 0  # epoch ms; 0 until it starts
    end_time: int = 0
    depends_on: tuple[str, ...] = ()
    run_if: str = "ALL_SUCCESS"
    notebook_path: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.life_cycle_state in TERMINAL_STATES

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_time - self.start_time) if self.start_time and self.end_time else 0


@dataclass(frozen=True)
class RepairAttempt:
    """One entry of a run's repair_history: the original run (repair_id None) or a repair."""

    repair_id: int | None
    start_time: int = 0
    end_time: int = 0
    task_run_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Run:
    run_id: int
    run_name: str
    life_cycle_state: str
    result_state: str | None = None
    state_message: str = ""
    run_page_url: str | None = None
    start_time: int = 0
    end_time: int = 0
    tasks: tuple[TaskRun, ...] = ()
    repair_history: tuple[RepairAttempt, ...] = ()
    job_id: int | None = None  # the saved job a run-now started it from; None for a one-time run

    @property
    def is_terminal(self) -> bool:
        return self.life_cycle_state in TERMINAL_STATES

    @property
    def latest_repair_id(self) -> int | None:
        """What runs/repair needs as latest_repair_id: the newest repair's id, None before any."""
        ids = [attempt.repair_id for attempt in self.repair_history if attempt.repair_id is not None]
        return ids[-1] if ids else None

    def latest_tasks(self) -> tuple[TaskRun, ...]:
        """Each task once: its newest attempt (highest attempt_number, then newest run id), in the order first seen."""
        newest: dict[str, TaskRun] = {}
        for task in self.tasks:
            known = newest.get(task.task_key)
            if known is None or (task.attempt_number, task.run_id) > (known.attempt_number, known.run_id):
                newest[task.task_key] = task
        return tuple(newest.values())

    @property
    def succeeded(self) -> bool:
        return self.life_cycle_state == "TERMINATED" and self.result_state == "SUCCESS"


@dataclass(frozen=True)
class RunOutput:
    """What a task run left behind: the notebook's exit value, or its error and trace."""

    result: str | None = None
    error: str | None = None
    error_trace: str | None = None
    logs: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class Job:
    """A saved job (jobs/get): its settings in the Jobs API's own JSON (JobSettings, as jobs/get
    answers them, the server's defaults filled in), who created it and when (epoch ms)."""

    job_id: int
    settings: dict[str, Any]
    creator_user_name: str = ""
    created_time: int = 0

    @property
    def name(self) -> str:
        return str(self.settings.get("name") or "")


def file_kind(path: str) -> str:
    """'dbfs', 'volumes' or 'workspace', from the path's form."""
    if path.startswith("dbfs:/"):
        return "dbfs"
    if path.startswith("/Volumes/"):
        return "volumes"
    if path.startswith("/"):
        return "workspace"
    raise ValueError(f"{path!r} is not a dbfs:/, /Volumes/ or workspace path")


def volume_address(path: str) -> tuple[str, str, str] | None:
    """(catalog, schema, volume) of a `/Volumes/c/s/v[/...]` path, or None when it names no volume."""
    if not path.startswith("/Volumes/"):
        return None
    parts = [part for part in path[len("/Volumes/"):].split("/") if part]
    return (parts[0], parts[1], parts[2]) if len(parts) >= 3 else None


class Backend(abc.ABC):
    """Workspace, files and jobs: the operations the tasks are written against."""

    name: str = "backend"

    # -- workspace -----------------------------------------------------------
    @abc.abstractmethod
    def get_status(self, path: str) -> ObjectInfo:
        """Describe one object; NotFound if missing."""

    @abc.abstractmethod
    def list(self, path: str) -> builtins.list[ObjectInfo]:
        """Direct children of a folder; NotFound if missing."""

    @abc.abstractmethod
    def mkdirs(self, path: str) -> None:
        """Create a folder and its parents (mkdir -p); Conflict if a non-folder is in the way."""

    @abc.abstractmethod
    def import_object(
        self, path: str, content: bytes, *, format: str = "AUTO", language: str | None = None, overwrite: bool = False
    ) -> None:
        """Import content: AUTO makes a notebook of a headed .py/.sql/.scala/.r or a valid .ipynb (path without
        extension), else a FILE; JUPYTER and HTML convert the content into a source notebook at `path`."""

    @abc.abstractmethod
    def export(self, path: str, *, format: str = "SOURCE") -> bytes:
        """A notebook's source (with header) or a file's bytes (SOURCE, AUTO, RAW); a notebook as JUPYTER, HTML or
        DBC; a folder as a DBC archive (DBC) or zip (AUTO), InvalidRequest for a folder in other formats. NotFound if missing."""

    @abc.abstractmethod
    def delete(self, path: str, *, recursive: bool = False) -> None:
        """Delete an object; DirectoryNotEmpty for a non-empty folder without recursive."""

    # -- files: dbfs:/..., /Volumes/..., and workspace files --------------------
    @abc.abstractmethod
    def file_status(self, path: str) -> FileInfo:
        """Describe a file or folder; NotFound if missing."""

    @abc.abstractmethod
    def list_files(self, path: str) -> builtins.list[FileInfo]:
        """Direct children of a folder."""

    @abc.abstractmethod
    def upload_file(self, path: str, source: Path, *, overwrite: bool = False) -> None:
        """Stream a local file to `path` (bounded memory); AlreadyExists unless overwrite."""

    @abc.abstractmethod
    def read_file(self, path: str) -> bytes:
        """A whole (small) file's bytes."""

    @abc.abstractmethod
    def move_file(self, source: str, destination: str, *, overwrite: bool = False) -> None:
        """Rename within one file system; used to publish a finished upload under its final name."""

    @abc.abstractmethod
    def delete_file(self, path: str, *, recursive: bool = False) -> None:
        """Delete a file or folder."""

    @abc.abstractmethod
    def mkdirs_files(self, path: str) -> None:
        """Create a folder and its parents."""

    # -- jobs -------------------------------------------------------------------
    @abc.abstractmethod
    def submit_run(self, spec: RunSpec) -> int:
        """Start a one-time run; the same idempotency token returns the same run id."""

    @abc.abstractmethod
    def get_run(self, run_id: int) -> Run:
        """The run's state and its tasks' run ids."""

    @abc.abstractmethod
    def cancel_run(self, run_id: int) -> None:
        """Ask the run to stop; a finished run is left as it is."""

    @abc.abstractmethod
    def repair_run(
        self, run_id: int, *, rerun_tasks: Sequence[str] = (), rerun_all_failed_tasks: bool = False,
        rerun_dependent_tasks: bool = False, latest_repair_id: int | None = None,
    ) -> int:
        """Rerun some tasks of a finished run within the same run (runs/repair); returns the repair id.
        Exactly one of `rerun_tasks` (keys) and `rerun_all_failed_tasks`; `latest_repair_id` is
        required from the second repair on. InvalidRequest while the run is active."""

    @abc.abstractmethod
    def get_run_output(self, task_run_id: int) -> RunOutput:
        """Output of one task run (ask a task's run id, not the parent's)."""

    @abc.abstractmethod
    def export_run(self, run_id: int) -> str:
        """The run's notebook rendered as HTML (cells and outputs)."""

    @abc.abstractmethod
    def list_runs(self, *, active_only: bool = False, job_id: int | None = None, limit: int | None = None) -> builtins.list[Run]:
        """One-time runs, newest first; with `job_id`, that saved job's runs instead; at most `limit` of them
        (`invoke jobs` asks for the newest only: one short page, not every run the job ever had)."""

    # -- saved jobs (jobs/create ... jobs/run-now): settings are JobSettings JSON ---------------
    # The defaults refuse: a backend without saved jobs says so rather than pretending.
    def create_job(self, settings: dict[str, Any]) -> int:
        """Save a job (jobs/create); InvalidRequest for settings the Jobs API refuses. Returns its id."""
        raise self._no_jobs()

    def get_job(self, job_id: int) -> Job:
        """The job with its settings as jobs/get answers them; NotFound for an unknown id."""
        raise self._no_jobs()

    def list_jobs(self, *, name: str | None = None) -> builtins.list[Job]:
        """Every saved job (all pages), tasks included; `name` keeps those of exactly that name, ignoring case."""
        raise self._no_jobs()

    def reset_job(self, job_id: int, settings: dict[str, Any]) -> None:
        """Replace a job's settings wholesale (jobs/reset)."""
        raise self._no_jobs()

    def update_job(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: Sequence[str] = ()) -> None:
        """Change some settings (jobs/update): top-level fields replaced, `tasks`/`job_clusters` merged by
        key; `fields_to_remove` names top-level fields, `tasks/<task_key>` or `job_clusters/<key>`."""
        raise self._no_jobs()

    def delete_job(self, job_id: int) -> None:
        """Delete a saved job; its runs stay readable."""
        raise self._no_jobs()

    def run_now(
        self, job_id: int, *, job_parameters: dict[str, str] | None = None, notebook_params: dict[str, str] | None = None,
        idempotency_token: str | None = None,
    ) -> int:
        """Start a run of a saved job (jobs/run-now); the same idempotency token returns the same run id."""
        raise self._no_jobs()

    def _no_jobs(self) -> Exception:
        return InvalidRequest(f"the {self.name} backend has no saved jobs", "use the local or the Databricks backend")

    # -- capabilities: what only some backends can tell; the defaults say "nothing" ----------
    def run_page_url(self, run: Run) -> str | None:
        return run.run_page_url

    def job_page_url(self, job_id: int) -> str | None:
        """The saved job's page in the workspace UI; None where there is no UI (the local backend)."""
        return None

    def task_result(self, task_run_id: int) -> dict[str, Any] | None:
        """The runtime's detailed result of a task run (status, cells and their outputs, the failed
        cell, duration), for reports; None where the backend keeps none (a workspace keeps only
        what get_run_output answers)."""
        return None

    def run_log_location(self, run_id: int) -> str | None:
        """Where the run's logs can be read on this machine (a folder), or None if nowhere here."""
        return None

    def tracked_metrics(self, mlflow_run_id: str) -> dict[str, float] | None:
        """The metrics an MLflow run logged (the latest value of each), for the report's comparison
        with master; None where this backend cannot read the run's tracking (the default)."""
        return None

    def check_volume(self, catalog: str, schema: str, volume: str) -> None:  # noqa: B027  (a defined default)
        """NotFound (with the workspace's message) when the Unity Catalog volume `catalog.schema.volume`
        does not exist. The default finds every volume: on the local backend a volume is a folder that
        writes make (a local root has no metastore to ask)."""

    @contextlib.contextmanager
    def throttle_listener(self, listener: Callable[[], None]) -> Iterator[None]:
        """Within the block, call `listener` whenever the workspace answers a request with 429,
        retried or not. The local backend is never throttled; the Databricks one retries 429s
        inside its client, so this is how a caller learns to send fewer requests at once."""
        yield

    def close(self) -> None:  # noqa: B027  (a capability with a defined default: nothing to release)
        """Release connections or handles; the default holds none."""
