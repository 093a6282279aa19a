"""A RunSpec as the body of runs/submit, in the Jobs API's own field names.

One function for every backend that stores or sends a run: the Databricks backend sends it (through
the SDK's SubmitTask), the local run store keeps it in the run's record, so `runs/get` over the
emulator echoes each task's settings exactly as a workspace would have been asked for them.
"""
from __future__ import annotations

from typing import Any

from bricktasks.backends.base import NotebookTask, RunSpec

__all__ = ["submit_body", "task_fields"]


def task_fields(spec: RunSpec, task: NotebookTask) -> dict[str, Any]:
    """One entry of runs/submit `tasks[]`: the notebook, its dependencies, compute, libraries and limits."""
    notebook: dict[str, Any] = {"notebook_path": task.notebook_path, "source": "WORKSPACE"}
    if task.base_parameters:
        notebook["base_parameters"] = dict(task.base_parameters)
    fields: dict[str, Any] = {"task_key": task.task_key, "notebook_task": notebook}
    if task.depends_on:
        fields["depends_on"] = [{"task_key": key} for key in task.depends_on]
    if task.run_if != "ALL_SUCCESS":
        fields["run_if"] = task.run_if
    fields.update(spec.task_compute(task).to_task_fields())
    libraries = spec.task_libraries(task)
    if libraries:
        fields["libraries"] = [dict(library) for library in libraries]
    timeout = task.timeout_seconds or spec.timeout_seconds  # each task also bounded by the run's limit
    if timeout:
        fields["timeout_seconds"] = timeout
    if task.max_retries:
        fields["max_retries"] = task.max_retries
    if task.min_retry_interval_millis:
        fields["min_retry_interval_millis"] = task.min_retry_interval_millis
    if task.retry_on_timeout:
        fields["retry_on_timeout"] = True
    return fields


def submit_body(spec: RunSpec) -> dict[str, Any]:
    """The whole runs/submit request body."""
    body: dict[str, Any] = {"run_name": spec.run_name, "tasks": [task_fields(spec, task) for task in spec.tasks]}
    if spec.timeout_seconds:
        body["timeout_seconds"] = spec.timeout_seconds
    if spec.idempotency_token:
        body["idempotency_token"] = spec.idempotency_token
    if spec.environments:
        body["environments"] = [dict(environment) for environment in spec.environments]
    if spec.performance_target:
        body["performance_target"] = spec.performance_target
    # spec.tags are not sent: runs/submit has no run-level tags (the SDK's submit takes none); the
    # local store keeps them in its own record, and classic clusters carry them as custom_tags
    return body
