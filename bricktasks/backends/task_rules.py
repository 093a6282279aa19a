"""Jobs API task lists as RunSpecs, validated as the Jobs API validates them (before anything starts).

The rules of runs/submit (the emulator's `jobs_submit`) and of a saved job's tasks (`local_jobs`,
which resolves `job_cluster_key` into each task's `new_cluster` first and then asks `tasks_from_json`).

Both shapes: `tasks[]` (Jobs 2.1/2.2, and 2.0 with tasks) and the old 2.0 single task at the top level
(`notebook_task`, `new_cluster`/`existing_cluster_id`, `libraries`, ... beside `run_name`). Each
task names at most one compute: `new_cluster` (an instance pool may stand in for the node type),
`existing_cluster_id`, or `environment_key`/nothing = serverless. Every refusal is an
InvalidRequest (400 INVALID_PARAMETER_VALUE over the emulator). Where reference 1.9 quotes the real message it is used word for word;
the others (marked "unconfirmed") say what is wrong and how to fix it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from bricktasks.backends.base import Compute, ExistingCluster, NewCluster, NotebookTask, RunSpec, Serverless
from bricktasks.backends.library_rules import check_environments, check_libraries
from bricktasks.dag.graph import GraphError, check_graph
from bricktasks.dag.outcomes import RUN_IF_VALUES
from bricktasks.errors import InvalidRequest

__all__ = ["spec_from_body", "tasks_from_json", "environments_from_json", "PERFORMANCE_TARGETS", "LEGACY_TASK_FIELDS"]

PERFORMANCE_TARGETS = ("PERFORMANCE_OPTIMIZED", "STANDARD")
# the task fields Jobs 2.0 takes at the top level of a single-task body
LEGACY_TASK_FIELDS = (
    "notebook_task", "new_cluster", "existing_cluster_id", "libraries", "timeout_seconds",
    "max_retries", "min_retry_interval_millis", "retry_on_timeout",
)
# task types the emulator recognises but cannot run (it runs notebooks only)
_OTHER_TASK_TYPES = (
    "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task", "sql_task", "dbt_task",
    "pipeline_task", "run_job_task", "for_each_task", "condition_task", "dashboard_task", "power_bi_task",
)
# real messages (reference 1.2 and 1.9)
NO_COMPUTE = "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified."
NO_COMPUTE_2_0 = "Either new_cluster or existing_cluster_id must be specified."
SERVERLESS_LIBRARIES = "Libraries field is not supported for serverless task, please specify libraries in environment."
MAX_TOKEN = 64


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message)


def spec_from_body(body: Mapping[str, Any], *, version: str = "2.2", serverless: bool = True) -> RunSpec:
    """The RunSpec a runs/submit body asks for; InvalidRequest for what the Jobs API refuses.

    `version` is the API version of the path (2.0 has its own no-compute message); `serverless`
    False answers as a workspace without serverless jobs (a task naming no cluster is refused)."""
    if "job_clusters" in body:
        # unconfirmed message: runs/submit has no job_clusters (SubmitTask has no job_cluster_key either)
        raise _bad("job_clusters is not supported by runs/submit; give each task a new_cluster instead")
    environments = environments_from_json(body.get("environments"))
    tasks = tasks_from_json(_tasks_json(body), environments, version=version, serverless=serverless)
    return RunSpec(
        run_name=str(body.get("run_name") or "Untitled"),
        tasks=tasks,
        timeout_seconds=_int(body, "timeout_seconds", "the run", minimum=0),
        idempotency_token=_token(body.get("idempotency_token")),
        tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
        environments=tuple(environments.values()),
        performance_target=_performance_target(body.get("performance_target")),
    )


def tasks_from_json(
    tasks_json: list[dict[str, Any]], environments: Mapping[str, dict[str, Any]], *, version: str = "2.2",
    serverless: bool = True,
) -> tuple[NotebookTask, ...]:
    """The notebook tasks of a `tasks[]` list (a graph: unique keys, known dependencies, no cycle)."""
    _check_graph(tasks_json)
    return tuple(_task(task, environments, version=version, serverless=serverless) for task in tasks_json)


def _tasks_json(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`tasks[]`, or the old top-level single task as a one-element `tasks[]`."""
    tasks = body.get("tasks")
    if tasks is None:
        if "notebook_task" not in body:
            raise _bad("One of tasks or notebook_task must be given; the emulator runs notebook tasks only")
        notebook = body.get("notebook_task")
        path = str(notebook.get("notebook_path") or "") if isinstance(notebook, dict) else ""
        key = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.basename(path))[:100] or "notebook"
        return [{"task_key": key, **{name: body[name] for name in LEGACY_TASK_FIELDS if name in body}}]
    if not isinstance(tasks, list) or not tasks:
        raise _bad("tasks must be a non-empty list")  # unconfirmed message
    if not all(isinstance(task, dict) for task in tasks):
        raise _bad("every element of tasks must be an object with a task_key")
    return tasks


def _check_graph(tasks: list[dict[str, Any]]) -> None:
    """Keys unique and valid, depends_on naming tasks of this run, no cycle (messages unconfirmed:
    check_graph's, which name the task and the loop)."""
    pairs: list[tuple[str, list[str]]] = []
    for task in tasks:
        depends_on = task.get("depends_on") or []
        if not isinstance(depends_on, list):
            raise _bad(f"task {task.get('task_key')!r}: depends_on must be a list of {{\"task_key\": ...}}")
        upstream = []
        for dependency in depends_on:
            if not isinstance(dependency, dict) or not dependency.get("task_key"):
                raise _bad("Missing required field: tasks.depends_on.task_key")  # reference 1.9's pattern
            upstream.append(dependency["task_key"])
        pairs.append((task.get("task_key"), upstream))  # type: ignore[arg-type]  # check_graph checks the key
    try:
        check_graph(pairs)
    except GraphError as exc:
        raise _bad(str(exc)) from None


def _task(task: dict[str, Any], environments: Mapping[str, dict[str, Any]], *, version: str, serverless: bool) -> NotebookTask:
    key = str(task["task_key"])
    if "job_cluster_key" in task:
        # unconfirmed message (SubmitTask has no job_cluster_key: there are no job_clusters to name)
        raise _bad(f"task {key!r}: job_cluster_key is not supported by runs/submit; give the task a new_cluster instead")
    run_if = task.get("run_if", "ALL_SUCCESS")
    if run_if not in RUN_IF_VALUES:
        raise _bad(f"task {key!r}: run_if {run_if!r} is not one of {', '.join(RUN_IF_VALUES)}")  # unconfirmed message
    compute = _compute(key, task, environments, version=version, serverless=serverless)
    libraries = task.get("libraries") or []
    if not isinstance(libraries, list) or not all(isinstance(library, dict) for library in libraries):
        raise _bad(f"task {key!r}: libraries must be a list of objects such as {{\"whl\": \"/Volumes/...\"}}")
    if libraries and isinstance(compute, Serverless):
        raise _bad(SERVERLESS_LIBRARIES)
    check_libraries(key, libraries)
    notebook = _notebook(key, task)
    return NotebookTask(
        task_key=key,
        notebook_path=notebook["notebook_path"],
        base_parameters={str(k): str(v) for k, v in (notebook.get("base_parameters") or {}).items()},
        depends_on=tuple(str(dependency["task_key"]) for dependency in task.get("depends_on") or []),
        run_if=run_if,
        compute=compute,
        libraries=tuple(libraries),
        timeout_seconds=_int(task, "timeout_seconds", f"task {key!r}", minimum=0),
        max_retries=_int(task, "max_retries", f"task {key!r}", minimum=-1),
        min_retry_interval_millis=_int(task, "min_retry_interval_millis", f"task {key!r}", minimum=0),
        retry_on_timeout=_bool(task, "retry_on_timeout", f"task {key!r}"),
    )


def _compute(
    key: str, task: Mapping[str, Any], environments: Mapping[str, dict[str, Any]], *, version: str, serverless: bool
) -> Compute:
    named = [name for name in ("new_cluster", "existing_cluster_id", "environment_key") if task.get(name)]
    if len(named) > 1:
        # unconfirmed message
        raise _bad(f"task {key!r} names more than one compute ({', '.join(named)}); give exactly one of them, or none for serverless")
    choice = named[0] if named else None
    if choice == "new_cluster":
        if not isinstance(task["new_cluster"], dict):
            raise _bad(f"task {key!r}: new_cluster must be a cluster spec object")
        return NewCluster(dict(task["new_cluster"]))  # instance_pool_id may stand in for node_type_id
    if choice == "existing_cluster_id":
        return ExistingCluster(str(task["existing_cluster_id"]))
    if not serverless:  # a workspace without serverless jobs: a task must name a cluster
        raise _bad(NO_COMPUTE_2_0 if version == "2.0" else NO_COMPUTE)
    if choice == "environment_key":
        environment_key = str(task["environment_key"])
        if environment_key not in environments:
            known = ", ".join(sorted(environments)) or "none"
            # unconfirmed message
            raise _bad(f"task {key!r}: environment_key {environment_key!r} names no entry of environments (known: {known})")
        return Serverless(environment_key)
    return Serverless()


def _notebook(key: str, task: Mapping[str, Any]) -> dict[str, Any]:
    notebook = task.get("notebook_task")
    if notebook is None:
        other = next((name for name in _OTHER_TASK_TYPES if name in task), None)
        if other:
            raise _bad(f"task {key!r}: {other} is not supported by the emulator, which runs notebook tasks only")
        raise _bad(f"No task defined for {key}")  # reference 1.9 (real text; its error_code unconfirmed)
    if not isinstance(notebook, dict) or not str(notebook.get("notebook_path") or "").startswith("/"):
        raise _bad(f"task {key!r}: the emulator runs notebook tasks with an absolute notebook_path only")
    if str(notebook.get("source") or "WORKSPACE").upper() != "WORKSPACE":
        raise _bad(f"task {key!r}: notebook source {notebook.get('source')} is not supported by the emulator")
    parameters = notebook.get("base_parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad(f"task {key!r}: notebook_task.base_parameters must be an object of strings")
    return notebook


def environments_from_json(value: Any) -> dict[str, dict[str, Any]]:
    """The run's environments by key; each needs an environment_key (unique) and a spec."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _bad("environments must be a list of {\"environment_key\": ..., \"spec\": {...}}")
    found: dict[str, dict[str, Any]] = {}
    for environment in value:
        if not isinstance(environment, dict) or not environment.get("environment_key"):
            raise _bad("Missing required field: environments.environment_key")
        key = str(environment["environment_key"])
        if key in found:
            raise _bad(f"environment_key {key!r} is used by more than one environment")  # unconfirmed message
        if not isinstance(environment.get("spec"), dict):
            raise _bad(f"Missing required field: environments.spec (environment {key!r})")
        found[key] = dict(environment)
    check_environments(found.values())
    return found


def _performance_target(value: Any) -> str | None:
    if value is None:
        return None
    if value not in PERFORMANCE_TARGETS:
        raise _bad(f"performance_target {value!r} is not one of {', '.join(PERFORMANCE_TARGETS)}")  # unconfirmed message
    return str(value)


def _token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if len(str(value)) > MAX_TOKEN:
        raise _bad(f"idempotency_token must be at most {MAX_TOKEN} characters")
    return str(value)


def _int(fields: Mapping[str, Any], name: str, where: str, *, minimum: int) -> int:
    value = fields.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, str) and value.lstrip("-").isdigit()):
        raise _bad(f"{where}: {name} must be an integer; got {value!r}")
    if int(value) < minimum:
        raise _bad(f"{where}: {name} must be at least {minimum}; got {value}")
    return int(value)


def _bool(fields: Mapping[str, Any], name: str, where: str) -> bool:
    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise _bad(f"{where}: {name} must be true or false; got {value!r}")
    return value
