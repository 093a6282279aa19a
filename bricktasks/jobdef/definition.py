"""A job definition in the Jobs API's own shape (what the UI's "View JSON" shows), read and checked.

    {"tasks": [{"task_key": "PrepareData", "notebook_task": {"notebook_path": "PrepareData"}}, ...],
     "job_clusters": [{"job_cluster_key": "ci", "new_cluster": {...}}],
     "environments": [{"environment_key": "default", "spec": {"environment_version": "2"}}],
     "timeout_seconds": 3600, "performance_target": "STANDARD"}

Notebook paths are relative to the source folder: whoever runs the definition (ci) puts them where
its build lives. Every mistake is a ConfigError naming the file and the JSON path of the value
(`jobs/ci.json: tasks[1] (ModelTraining).depends_on[0]: ...`), raised before anything is built or
uploaded. The result carries values only (backends' Compute kinds); it names no build.
"""
from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from bricktasks.backends.base import Compute, ExistingCluster, NewCluster, Serverless
from bricktasks.dag.graph import GraphError, check_graph, check_task_key
from bricktasks.dag.outcomes import DEFAULT_RUN_IF, RUN_IF_VALUES
from bricktasks.errors import ConfigError
from bricktasks.jobdef import fields as api
from bricktasks.jobdef.jsonfile import read_json_file
from bricktasks.jobdef.libraries import library_problem

__all__ = ["TaskDefinition", "JobDefinition", "load_job_definition", "check_tasks", "PERFORMANCE_TARGETS",
           "COMPUTE_CHOICES"]

PERFORMANCE_TARGETS = ("PERFORMANCE_OPTIMIZED", "STANDARD")  # the SDK 0.162 enum (jobs.PerformanceTarget)
COMPUTE_CHOICES = ("job_cluster_key", "existing_cluster_id", "new_cluster", "environment_key")
HINT = "see bricktasks' docs/ci-definition.md"
MAX_TASKS = 1000  # the Jobs API's documented limit on write


@dataclass(frozen=True)
class TaskDefinition:
    """One task as the file defines it. `notebook` is relative to the source folder, without ".py";
    `compute` None means serverless with the notebook's own environment; a `job_cluster_key` is
    already resolved into the job cluster's NewCluster (kept by name in `job_cluster_key`)."""

    task_key: str
    notebook: str
    base_parameters: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    run_if: str = DEFAULT_RUN_IF
    compute: Compute | None = None
    job_cluster_key: str | None = None
    libraries: tuple[dict[str, Any], ...] = ()
    timeout_seconds: int = 0
    max_retries: int = 0
    min_retry_interval_millis: int = 0
    retry_on_timeout: bool = False
    description: str = ""

    @property
    def serverless(self) -> bool:
        return self.compute is None or isinstance(self.compute, Serverless)


@dataclass(frozen=True)
class JobDefinition:
    """A run's tasks and their run-level settings, as a file (or ci's shorthand) defines them.

    `compute` and `libraries` are run-level: only the shorthand (cluster.json) sets them, a file
    names compute per task as the Jobs API does."""

    source: str  # what defined it, for messages: "jobs/ci.json", "cluster.json"
    tasks: tuple[TaskDefinition, ...]
    environments: tuple[dict[str, Any], ...] = ()
    timeout_seconds: int = 0
    performance_target: str | None = None
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    compute: Compute | None = None
    libraries: tuple[dict[str, Any], ...] = ()


class _Where:
    """A JSON path inside the file, for messages: `jobs/ci.json: tasks[1] (ModelTraining).depends_on[0]`."""

    def __init__(self, source: str, path: str = "") -> None:
        self.source, self.path = source, path

    def at(self, name: str | int, label: str | None = None) -> _Where:
        step = f"[{name}]" if isinstance(name, int) else (f".{name}" if self.path else name)
        return _Where(self.source, self.path + step + (f" ({label})" if label else ""))

    def error(self, problem: str, hint: str = HINT) -> ConfigError:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return ConfigError(f"{where}: {problem}", hint)


# ---- generic checks -----------------------------------------------------------------------------


def _closest(name: str, valid: Collection[str]) -> str | None:
    found = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return found[0] if found else None


def _check_fields(where: _Where, value: Mapping[str, Any], level: api.Level, *, user: str = "ci") -> None:
    """Refuse unknown fields (naming the closest valid one) and API fields the `user` ("ci", "deploy")
    does not carry."""
    for name in value:
        if name in level.carried:
            continue
        if name in level.no_effect:
            if name in api.EMPTY_ONLY and value[name] not in ({}, None):
                sends = "ci sends no notifications" if user == "ci" else f"{user} sets notifications on the job, not the task"
                raise where.at(name).error(sends, f'remove it or leave it {{}}; {HINT}')
            continue
        shown = name if len(name) <= 60 else name[:60] + "..."
        if name in level.api:
            carrier = "run" if user == "ci" else "job"
            reason = f"{user} runs notebook tasks only" if name.endswith("_task") else f"{user} does not carry it to the {carrier}"
            raise where.at(shown).error(f"{shown!r} is a Jobs API field, but {reason}", f"remove it; {HINT}")
        closest = _closest(name, level.accepted)
        suggestion = f"did you mean {closest!r}?" if closest else f"valid fields: {', '.join(sorted(level.accepted))}"
        raise where.at(shown).error(f"unknown field {shown!r}", suggestion)


def _object(where: _Where, value: Any, level: api.Level | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(f"must be a JSON object, not {_kind(value)}")
    if level is not None:
        _check_fields(where, value, level)
    return value


def _list(where: _Where, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise where.error(f"must be a JSON list, not {_kind(value)}")
    return value


def _text(where: _Where, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"must be a non-empty string, not {_kind(value)}")
    return value


def _integer(where: _Where, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"must be a whole number, not {_kind(value)}")
    if value < minimum:
        raise where.error(f"must be at least {minimum}, not {value}")
    return value


def _string_map(where: _Where, value: Any) -> dict[str, str]:
    mapping = _object(where, value)
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise where.at(key).error(f"must be a string (the Jobs API passes parameters as strings), not {_kind(item)}")
    return dict(mapping)


def _choice(where: _Where, value: Any, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in valid:
        closest = _closest(value, valid) if isinstance(value, str) else None
        shown = repr(value) if isinstance(value, str) and len(value) <= 60 else _kind(value)
        hint = f"did you mean {closest!r}?" if closest else f"use one of {', '.join(valid)}"
        raise where.error(f"{shown} is not one of {', '.join(valid)}", hint)
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# ---- the parts ---------------------------------------------------------------------------------


def _new_cluster(where: _Where, value: Any) -> dict[str, Any]:
    spec = _object(where, value, api.CLUSTER_SPEC)
    _text(where.at("spark_version"), spec.get("spark_version"))
    if "autoscale" in spec:
        autoscale = _object(where.at("autoscale"), spec["autoscale"], api.AUTOSCALE)
        for name in ("min_workers", "max_workers"):
            _integer(where.at("autoscale").at(name), autoscale.get(name), 0)
    if "num_workers" in spec:
        _integer(where.at("num_workers"), spec["num_workers"], 0)
    if "custom_tags" in spec:
        _string_map(where.at("custom_tags"), spec["custom_tags"])
    return spec


def _libraries(where: _Where, value: Any) -> tuple[dict[str, Any], ...]:
    libraries = _list(where, value)
    for number, library in enumerate(libraries):
        problem = library_problem(library)
        if problem:
            raise where.at(number).error(problem)
    return tuple(libraries)


def _job_clusters(where: _Where, value: Any) -> dict[str, dict[str, Any]]:
    clusters: dict[str, dict[str, Any]] = {}
    for number, item in enumerate(_list(where, value)):
        spot = where.at(number)
        cluster = _object(spot, item, api.JOB_CLUSTER)
        key = _text(spot.at("job_cluster_key"), cluster.get("job_cluster_key"))
        spot = where.at(number, key)
        if key in clusters:
            raise spot.at("job_cluster_key").error(f"{key!r} names more than one job cluster", "give each a key of its own")
        if "new_cluster" not in cluster:
            raise spot.error("a job cluster needs a new_cluster", 'write {"job_cluster_key": "...", "new_cluster": {"spark_version": ...}}')
        clusters[key] = _new_cluster(spot.at("new_cluster"), cluster["new_cluster"])
    return clusters


def _environments(where: _Where, value: Any) -> tuple[dict[str, Any], ...]:
    seen: set[str] = set()
    environments = []
    for number, item in enumerate(_list(where, value)):
        spot = where.at(number)
        environment = _object(spot, item, api.ENVIRONMENT)
        key = _text(spot.at("environment_key"), environment.get("environment_key"))
        spot = where.at(number, key)
        if key in seen:
            raise spot.at("environment_key").error(f"{key!r} names more than one environment", "give each a key of its own")
        seen.add(key)
        _object(spot.at("spec"), environment.get("spec"), api.ENVIRONMENT_SPEC)
        environments.append({"environment_key": key, "spec": environment["spec"]})
    return tuple(environments)


def _notebook(where: _Where, value: Any, notebooks: Collection[str], source_dir: str) -> tuple[str, dict[str, str]]:
    task = _object(where, value, api.NOTEBOOK_TASK)
    path_at = where.at("notebook_path")
    path = _text(path_at, task.get("notebook_path"))
    relative = f'write it relative to {source_dir}/, e.g. "ModelTraining": ci runs the build\'s copy in CI/<build>-<branch>'
    if path.startswith("/") or "\\" in path:
        raise path_at.error(f"{path!r} is absolute", relative)
    parts = PurePosixPath(path).parts
    if ".." in parts:
        raise path_at.error(f"{path!r} leaves the source folder ('..')", relative)
    name = "/".join(part for part in parts if part != ".")
    name = name[:-3] if name.endswith(".py") else name
    if name not in notebooks:
        closest = _closest(name, notebooks)
        hint = f"did you mean {closest!r}?" if closest else f"notebooks there: {', '.join(sorted(notebooks)) or 'none'}"
        raise path_at.error(f"there is no notebook {path!r} in {source_dir}", hint)
    if "source" in task and task["source"] != "WORKSPACE":
        raise where.at("source").error("only WORKSPACE notebooks are supported (ci uploads them)", "remove source or set it to WORKSPACE")
    parameters = _string_map(where.at("base_parameters"), task["base_parameters"]) if "base_parameters" in task else {}
    return name, parameters


def _depends_on(where: _Where, value: Any) -> tuple[str, ...]:
    keys = []
    for number, item in enumerate(_list(where, value)):
        dependency = _object(where.at(number), item, api.DEPENDENCY)
        keys.append(_text(where.at(number).at("task_key"), dependency.get("task_key")))
    return tuple(keys)


def _compute(where: _Where, task: Mapping[str, Any], clusters: Mapping[str, dict[str, Any]],
             environments: Collection[str]) -> tuple[Compute | None, str | None]:
    chosen = [name for name in COMPUTE_CHOICES if name in task]
    if len(chosen) > 1:
        raise where.error(
            f"names two compute choices ({' and '.join(chosen)})",
            "keep one: job_cluster_key, existing_cluster_id or new_cluster, or none (serverless, optionally with environment_key)",
        )
    if "job_cluster_key" in task:
        key = _text(where.at("job_cluster_key"), task["job_cluster_key"])
        if key not in clusters:
            closest = _closest(key, clusters)
            hint = f"did you mean {closest!r}?" if closest else f"job clusters: {', '.join(clusters) or 'none (add job_clusters[])'}"
            raise where.at("job_cluster_key").error(f"there is no job cluster {key!r} in job_clusters", hint)
        return NewCluster(clusters[key]), key
    if "existing_cluster_id" in task:
        return ExistingCluster(_text(where.at("existing_cluster_id"), task["existing_cluster_id"])), None
    if "new_cluster" in task:
        return NewCluster(_new_cluster(where.at("new_cluster"), task["new_cluster"])), None
    if "environment_key" in task:
        key = _text(where.at("environment_key"), task["environment_key"])
        if key not in environments:
            closest = _closest(key, environments)
            hint = f"did you mean {closest!r}?" if closest else f"environments: {', '.join(environments) or 'none (add environments[])'}"
            raise where.at("environment_key").error(f"there is no environment {key!r} in environments", hint)
        return Serverless(key), None
    return None, None


def _task(where: _Where, item: Any, clusters: Mapping[str, dict[str, Any]], environments: Collection[str],
          notebooks: Collection[str], source_dir: str, user: str = "ci") -> TaskDefinition:
    task = _object(where, item)
    if "task_key" not in task:
        raise where.error("has no task_key", "give every task a task_key, e.g. \"ModelTraining\"")
    try:
        key = check_task_key(task["task_key"])
    except GraphError as exc:
        raise where.at("task_key").error(str(exc)) from None
    where = _Where(where.source, where.path + f" ({key})")
    _check_fields(where, task, api.TASK, user=user)
    if "notebook_task" not in task:
        raise where.error("has no notebook_task", 'add "notebook_task": {"notebook_path": "<notebook in the source folder>"}')
    notebook, parameters = _notebook(where.at("notebook_task"), task["notebook_task"], notebooks, source_dir)
    compute, cluster_key = _compute(where, task, clusters, environments)
    libraries = _libraries(where.at("libraries"), task["libraries"]) if "libraries" in task else ()
    if libraries and (compute is None or isinstance(compute, Serverless)):
        raise where.at("libraries").error(
            "a serverless task takes no libraries (the Jobs API refuses them)",
            "install them in the notebook (the example's install_libraries does) or in an environment's spec.dependencies, "
            "or give the task a job_cluster_key",
        )
    return TaskDefinition(
        task_key=key,
        notebook=notebook,
        base_parameters=parameters,
        depends_on=_depends_on(where.at("depends_on"), task["depends_on"]) if "depends_on" in task else (),
        run_if=_choice(where.at("run_if"), task["run_if"], RUN_IF_VALUES) if "run_if" in task else DEFAULT_RUN_IF,
        compute=compute,
        job_cluster_key=cluster_key,
        libraries=libraries,
        timeout_seconds=_integer(where.at("timeout_seconds"), task.get("timeout_seconds", 0), 0),
        max_retries=_integer(where.at("max_retries"), task.get("max_retries", 0), -1),
        min_retry_interval_millis=_integer(where.at("min_retry_interval_millis"), task.get("min_retry_interval_millis", 0), 0),
        retry_on_timeout=_boolean(where.at("retry_on_timeout"), task.get("retry_on_timeout", False)),
        description=_text(where.at("description"), task["description"]) if "description" in task else "",
    )


def _boolean(where: _Where, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"must be true or false, not {_kind(value)}")
    return value


def _check_graph(where: _Where, tasks: list[TaskDefinition]) -> None:
    """Duplicate keys and unknown dependencies named by their place in the file; cycles by their loop."""
    first: dict[str, int] = {}
    for number, task in enumerate(tasks):
        if task.task_key in first:
            raise where.at(number, task.task_key).at("task_key").error(
                f"{task.task_key!r} is also the key of tasks[{first[task.task_key]}]", "give every task a key of its own"
            )
        first[task.task_key] = number
    for number, task in enumerate(tasks):
        for index, dependency in enumerate(task.depends_on):
            spot = where.at(number, task.task_key).at("depends_on").at(index)
            if dependency not in first:
                closest = _closest(dependency, first)
                hint = f"did you mean {closest!r}?" if closest else f"tasks: {', '.join(first)}"
                raise spot.error(f"{dependency!r} is not a task of this definition", hint)
            if dependency == task.task_key:
                raise spot.error("a task cannot depend on itself", "remove it from depends_on")
            if dependency in task.depends_on[:index]:
                raise spot.error(f"{dependency!r} is named twice", "name each dependency once")
    try:
        check_graph([(task.task_key, task.depends_on) for task in tasks])
    except GraphError as exc:
        raise where.error(str(exc), "remove one dependency of the loop") from None


# ---- the file -----------------------------------------------------------------------------------


def load_job_definition(path: Path, *, shown: str, notebooks: Collection[str], source_dir: str) -> JobDefinition:
    """Read and check a job definition. `shown` names the file in messages (relative to the project);
    `notebooks` are the source folder's runnable notebooks (relative, no extension)."""
    top = _Where(shown)
    hint = f"write a JSON object with \"tasks\": [...]; {HINT}"
    data = read_json_file(path, f"job definition {shown}", hint)
    if not isinstance(data, dict):
        raise top.error("must be a JSON object", hint)
    _check_fields(top, data, api.JOB)
    tasks, environments = check_tasks(top, data, notebooks=notebooks, source_dir=source_dir, hint=hint)
    return JobDefinition(
        source=shown,
        tasks=tasks,
        environments=environments,
        timeout_seconds=_integer(top.at("timeout_seconds"), data.get("timeout_seconds", 0), 0),
        performance_target=(
            _choice(top.at("performance_target"), data["performance_target"], PERFORMANCE_TARGETS)
            if "performance_target" in data else None
        ),
        run_name=_text(top.at("run_name"), data["run_name"]) if "run_name" in data else None,
        tags=_string_map(top.at("tags"), data["tags"]) if "tags" in data else {},
    )


def check_tasks(top: _Where, data: Mapping[str, Any], *, notebooks: Collection[str], source_dir: str,
                hint: str, user: str = "ci") -> tuple[tuple[TaskDefinition, ...], tuple[dict[str, Any], ...]]:
    """The part every definition shares (ci's run, a production job): its tasks, job_clusters and
    environments checked against each other and the source folder's notebooks; the graph acyclic."""
    if "tasks" not in data:
        raise top.error("has no tasks", hint)
    items = _list(top.at("tasks"), data["tasks"])
    if not items:
        raise top.at("tasks").error("is empty: the run would pass having run nothing", "list the notebooks to run as tasks")
    if len(items) > MAX_TASKS:
        raise top.at("tasks").error(f"has {len(items)} tasks; the Jobs API takes at most {MAX_TASKS}", "split the run")
    clusters = _job_clusters(top.at("job_clusters"), data["job_clusters"]) if "job_clusters" in data else {}
    environments = _environments(top.at("environments"), data["environments"]) if "environments" in data else ()
    environment_keys = [environment["environment_key"] for environment in environments]
    tasks = [
        _task(top.at("tasks").at(number), item, clusters, environment_keys, notebooks, source_dir, user)
        for number, item in enumerate(items)
    ]
    _check_graph(top.at("tasks"), tasks)
    return tuple(tasks), environments
