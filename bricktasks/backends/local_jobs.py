"""Saved jobs of the local backend: jobs/create, get, list, reset, update, delete, and what run-now runs.

A job is a file `<root>/jobs/<id>.json` holding its settings as given (JobSettings JSON, the API's own
field names), its creator and creation time; every read-modify-write holds the store's lock and
every write is atomic (a temporary file renamed over the old one). Reads fill in the defaults a
workspace echoes (reference 11, item 5), so the file keeps only what was asked for and a reset
really replaces everything.

Settings are checked before anything is written, with the rules runs/submit applies to tasks
(`task_rules`, after each `job_cluster_key` is resolved into its cluster) plus the job-level
ones: job clusters named by a task exist, a schedule has its cron expression and time zone (its
syntax is the definition loader's business), the name fits 4096 bytes, at most 25 tags.
Messages are the real ones where reference 1.9 has them; the others say what is wrong and what to do.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Job, NotebookTask, RunSpec
from bricktasks.backends.local_paths import store_lock
from bricktasks.backends.task_rules import environments_from_json, tasks_from_json
from bricktasks.errors import InvalidRequest, NotFound

__all__ = [
    "LocalJobStore", "JobRunRequest", "check_settings", "resolved_tasks", "with_defaults", "merge_update", "job_run_spec",
    "JOB_ID_BASE",
]

# job ids look like real ones (~15 digits) so nothing mistakes them for run ids, which count from 1
JOB_ID_BASE = 100_000_000_000_000
MAX_NAME_BYTES = 4096
MAX_TAGS = 25
MAX_CONCURRENT_RUNS = 1000
PAUSE_STATUSES = ("PAUSED", "UNPAUSED")
JOB_DEFAULTS: dict[str, Any] = {
    "email_notifications": {}, "webhook_notifications": {}, "timeout_seconds": 0, "max_concurrent_runs": 1,
    "format": "MULTI_TASK", "queue": {"enabled": True},
}
TASK_DEFAULTS: dict[str, Any] = {"run_if": "ALL_SUCCESS", "timeout_seconds": 0, "email_notifications": {}}


def _missing(path: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required field: settings.{path}")  # reference 1.9's pattern


@dataclass(frozen=True)
class JobRunRequest:
    """What a run of a saved job adds to a one-time run: whose run it is and its concurrency rules."""

    job_id: int
    max_concurrent_runs: int
    queue_enabled: bool
    job_parameters: tuple[dict[str, str], ...] = ()  # [{name, default, value}], as runs/get shows them
    notebook_params: dict[str, str] | None = None
    trigger: str = "ONE_TIME"  # PERIODIC when the emulator's --run-schedules fires the job's schedule


# -- the rules --------------------------------------------------------------------------------
def check_settings(settings: Any) -> dict[str, Any]:
    """The settings as given, checked; InvalidRequest for what the Jobs API refuses."""
    if not isinstance(settings, dict):
        raise InvalidRequest("the job settings must be a JSON object (JobSettings)")
    name = settings.get("name")
    if name is not None and (not isinstance(name, str) or len(name.encode()) > MAX_NAME_BYTES):
        raise InvalidRequest(f"name must be a string of at most {MAX_NAME_BYTES} bytes", "shorten the job's name")
    _check_tags(settings.get("tags"))
    _check_schedule(settings.get("schedule"))
    _check_int(settings, "timeout_seconds", 0, None)
    _check_int(settings, "max_concurrent_runs", 0, MAX_CONCURRENT_RUNS)
    queue = settings.get("queue")
    if queue is not None and (not isinstance(queue, dict) or not isinstance(queue.get("enabled"), bool)):
        raise _missing("queue.enabled") if isinstance(queue, dict) else InvalidRequest("queue must be {\"enabled\": true|false}")
    _check_parameters(settings.get("parameters"))
    resolved_tasks(settings)
    return copy.deepcopy(settings)


def resolved_tasks(settings: Mapping[str, Any], *, serverless: bool = True) -> tuple[NotebookTask, ...]:
    """The job's tasks as a run runs them: each job cluster copied into its tasks as their new_cluster.
    `serverless` False: as a workspace without serverless jobs, a task naming no compute is refused."""
    clusters = _job_clusters(settings.get("job_clusters"))
    tasks = settings.get("tasks")
    if tasks is None:
        if clusters:
            raise InvalidRequest("Shared job cluster feature is only supported in multi-task jobs.")  # reference 1.9
        return ()
    if not isinstance(tasks, list) or not all(isinstance(task, dict) for task in tasks):
        raise InvalidRequest("tasks must be a list of task objects, each with a task_key")
    inlined = []
    for task in tasks:
        task = dict(task)
        key = task.pop("job_cluster_key", None)
        if key is not None:
            if key not in clusters:
                known = ", ".join(clusters) or "none"
                # unconfirmed message
                raise InvalidRequest(
                    f"task {task.get('task_key')!r}: job_cluster_key {key!r} names no entry of job_clusters (known: {known})"
                )
            if task.get("new_cluster") or task.get("existing_cluster_id") or task.get("environment_key"):
                raise InvalidRequest(f"task {task.get('task_key')!r} names a job_cluster_key and another compute; give one of them")
            task["new_cluster"] = clusters[key]
        inlined.append(task)
    return tasks_from_json(inlined, environments_from_json(settings.get("environments")), serverless=serverless)


def _job_clusters(value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidRequest("job_clusters must be a list of {\"job_cluster_key\": ..., \"new_cluster\": {...}}")
    found: dict[str, dict[str, Any]] = {}
    for cluster in value:
        if not isinstance(cluster, dict) or not cluster.get("job_cluster_key"):
            raise _missing("job_clusters.job_cluster_key")
        key = str(cluster["job_cluster_key"])
        if key in found:
            raise InvalidRequest(f"job_cluster_key {key!r} is used by more than one job cluster")  # unconfirmed message
        if not isinstance(cluster.get("new_cluster"), dict):
            raise _missing("job_clusters.new_cluster")
        found[key] = dict(cluster["new_cluster"])
    return found


def _check_tags(tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, dict) or not all(isinstance(value, str) for value in tags.values()):
        raise InvalidRequest("tags must be an object of string values")
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"a job can have at most {MAX_TAGS} tags; it has {len(tags)}", "drop some tags")


def _check_schedule(schedule: Any) -> None:
    if schedule is None:
        return
    if not isinstance(schedule, dict):
        raise InvalidRequest("schedule must be {\"quartz_cron_expression\": ..., \"timezone_id\": ...}")
    for name in ("quartz_cron_expression", "timezone_id"):
        if not isinstance(schedule.get(name), str) or not schedule[name].strip():
            raise _missing(f"schedule.{name}")
    pause = schedule.get("pause_status")
    if pause is not None and pause not in PAUSE_STATUSES:
        raise InvalidRequest(f"schedule.pause_status must be PAUSED or UNPAUSED; got {pause!r}")


def _check_int(settings: Mapping[str, Any], name: str, minimum: int, maximum: int | None) -> None:
    value = settings.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidRequest(f"{name} must be an integer {bounds}; got {value!r}")


def _check_parameters(parameters: Any) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, list):
        raise InvalidRequest("parameters must be a list of {\"name\": ..., \"default\": ...}")
    names = set()
    for parameter in parameters:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise _missing("parameters.name")
        if not isinstance(parameter.get("default"), str):
            raise _missing("parameters.default")
        if parameter["name"] in names:
            raise InvalidRequest(f"job parameter {parameter['name']!r} is defined twice")  # unconfirmed message
        names.add(parameter["name"])


def with_defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as jobs/get echoes them: the server's defaults filled in (reference 11, item 5)."""
    filled = {**copy.deepcopy(JOB_DEFAULTS), **copy.deepcopy(dict(settings))}
    filled["format"] = "MULTI_TASK"  # ignored on write, always MULTI_TASK since 2.1 (reference 1.3)
    for task in filled.get("tasks") or []:
        for name, value in TASK_DEFAULTS.items():
            task.setdefault(name, copy.deepcopy(value))
        if isinstance(task.get("notebook_task"), dict):
            task["notebook_task"].setdefault("source", "WORKSPACE")
    return filled


def merge_update(settings: Mapping[str, Any], new_settings: Mapping[str, Any], fields_to_remove: Sequence[str]) -> dict[str, Any]:
    """jobs/update: top-level fields replaced, `tasks`/`job_clusters` merged by key, then removals."""
    if not isinstance(new_settings, dict):
        raise InvalidRequest("new_settings must be a JSON object (JobSettings)")
    merged = copy.deepcopy(dict(settings))
    for name, value in new_settings.items():
        if name in _KEYED and isinstance(value, list):
            merged[name] = _merge_by_key(merged.get(name) or [], value, _KEYED[name])
        else:
            merged[name] = copy.deepcopy(value)
    for field in fields_to_remove:
        _remove(merged, str(field))
    return merged


_KEYED = {"tasks": "task_key", "job_clusters": "job_cluster_key"}


def _merge_by_key(old: list[Any], new: list[Any], key: str) -> list[Any]:
    merged = [copy.deepcopy(item) for item in old]
    positions = {item.get(key): index for index, item in enumerate(merged) if isinstance(item, dict)}
    for item in new:
        if isinstance(item, dict) and item.get(key) in positions:
            merged[positions[item[key]]] = copy.deepcopy(item)
        else:
            merged.append(copy.deepcopy(item))
    return merged


def _remove(settings: dict[str, Any], field: str) -> None:
    array, _, key = field.partition("/")
    if not key:
        settings.pop(field, None)
        return
    if array not in _KEYED:
        raise InvalidRequest(f"fields_to_remove: {field!r} is not a top-level field, tasks/<task_key> or job_clusters/<key>")
    items = settings.get(array) or []
    kept = [item for item in items if item.get(_KEYED[array]) != key]
    if len(kept) == len(items):
        # unconfirmed message
        raise InvalidRequest(f"fields_to_remove: the job has no {array} entry {key!r}", f"name an existing {_KEYED[array]}")
    settings[array] = kept


def job_run_spec(job: Job, *, notebook_params: Mapping[str, str] | None, job_parameters: Mapping[str, str] | None,
                 idempotency_token: str | None) -> tuple[RunSpec, tuple[dict[str, str], ...]]:
    """The one-time run a run-now of `job` is, and its resolved job parameters.

    Each notebook gets its base_parameters, then the job's parameters (defaults, overridden by
    run-now's `job_parameters`: the API pushes them down to notebook tasks), then run-now's
    `notebook_params`, which win (reference 1.1)."""
    defined = {parameter["name"]: parameter["default"] for parameter in job.settings.get("parameters") or []}
    unknown = sorted(set(job_parameters or {}) - set(defined))
    if unknown:
        # unconfirmed message
        raise InvalidRequest(f"job {job.job_id} has no parameter {unknown[0]!r}", "known: " + (", ".join(defined) or "none"))
    resolved = [{"name": name, "default": default, "value": str((job_parameters or {}).get(name, default))}
                for name, default in defined.items()]
    tasks = resolved_tasks(job.settings)
    if not tasks:
        raise InvalidRequest(f"job {job.job_id} has no tasks to run", "add tasks with jobs/reset or jobs/update")
    pushed = {parameter["name"]: parameter["value"] for parameter in resolved}
    overrides = {str(k): str(v) for k, v in (notebook_params or {}).items()}
    tasks = tuple(replace(task, base_parameters={**task.base_parameters, **pushed, **overrides}) for task in tasks)
    spec = RunSpec(
        run_name=job.name or f"job {job.job_id}",
        tasks=tasks,
        timeout_seconds=int(job.settings.get("timeout_seconds") or 0),
        idempotency_token=idempotency_token or None,
        tags={str(k): str(v) for k, v in (job.settings.get("tags") or {}).items()},
        environments=tuple(environments_from_json(job.settings.get("environments")).values()),
    )
    return spec, tuple(resolved)


# -- the store ----------------------------------------------------------------------------------
class LocalJobStore:
    """Saved jobs under `<root>/jobs`, one JSON file each."""

    def __init__(self, folder: Path, *, creator: str) -> None:
        self.folder = folder
        self.creator = creator  # creator_user_name of the jobs created

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return store_lock(self.folder)

    def _path(self, job_id: int) -> Path:
        return self.folder / f"{int(job_id)}.json"

    def _read(self, job_id: int) -> dict[str, Any]:
        try:
            return json.loads(self._path(job_id).read_text())
        except (FileNotFoundError, ValueError, TypeError):
            raise NotFound(f"Job {job_id} does not exist.") from None

    def _write(self, record: dict[str, Any]) -> None:
        target = self._path(record["job_id"])
        temp = target.with_name(f".{target.name}.tmp")
        temp.write_text(json.dumps(record, indent=1))
        os.replace(temp, target)

    def _next_id(self) -> int:
        counter = self.folder / ".next-id"
        value = int(counter.read_text()) if counter.exists() else 1
        counter.write_text(str(value + 1))
        return JOB_ID_BASE + value

    def create(self, settings: dict[str, Any], created_time: int) -> int:
        checked = check_settings(settings)
        with self._locked():
            job_id = self._next_id()
            self._write({"job_id": job_id, "creator_user_name": self.creator, "created_time": created_time, "settings": checked})
        return job_id

    def get(self, job_id: int) -> Job:
        record = self._read(job_id)
        return Job(
            job_id=int(record["job_id"]), settings=with_defaults(record["settings"]),
            creator_user_name=str(record.get("creator_user_name") or ""), created_time=int(record.get("created_time") or 0),
        )

    def list(self, *, name: str | None = None) -> list[Job]:
        ids = sorted(int(path.stem) for path in self.folder.glob("*.json") if path.stem.isdigit()) if self.folder.is_dir() else []
        jobs = []
        for job_id in ids:
            with contextlib.suppress(NotFound):  # deleted meanwhile
                jobs.append(self.get(job_id))
        if name is not None:
            jobs = [job for job in jobs if job.name.casefold() == name.casefold()]
        return jobs

    def reset(self, job_id: int, settings: dict[str, Any]) -> None:
        checked = check_settings(settings)
        with self._locked():
            record = self._read(job_id)
            record["settings"] = checked
            self._write(record)

    def update(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: Sequence[str]) -> None:
        with self._locked():
            record = self._read(job_id)
            record["settings"] = check_settings(merge_update(record["settings"], new_settings, fields_to_remove))
            self._write(record)

    def delete(self, job_id: int) -> None:
        with self._locked():
            self._read(job_id)  # NotFound for an unknown id
            self._path(job_id).unlink()
