"""Jobs API one-time runs over the local backend, on /api/2.0, /2.1 and /2.2.

runs/submit takes the `tasks[]` shape and the old top-level single-task shape; only notebook
tasks run (locally, through `LocalBackend.submit_run`). A missing run answers
400 INVALID_PARAMETER_VALUE "Run N does not exist." as Databricks does.
"""
from __future__ import annotations

import os
import re
from typing import Any

from bricktasks.backends.base import TERMINAL_STATES, NotebookTask, Run, RunOutput, RunSpec, compute_from_task_fields
from bricktasks.emulator.protocol import ApiError, Request, Response, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import NotFound

__all__ = ["ROUTES", "spec_from_body"]

OUTPUT_CAP = 5 * 1024 * 1024
MAX_LIST_LIMIT = 25
_TASK_FIELDS = ("notebook_task", "new_cluster", "existing_cluster_id", "libraries", "timeout_seconds", "environment_key")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def spec_from_body(body: dict[str, Any]) -> RunSpec:
    """A RunSpec from a runs/submit body, `tasks[]` or the old single-task shape."""
    tasks_json = body.get("tasks")
    if tasks_json is None:
        if "notebook_task" not in body:
            raise _bad("One of tasks or notebook_task must be given; the emulator runs notebook tasks only")
        path = str((body.get("notebook_task") or {}).get("notebook_path") or "")
        key = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.basename(path)) or "notebook"
        tasks_json = [{"task_key": key, **{name: body[name] for name in _TASK_FIELDS if name in body}}]
    if not isinstance(tasks_json, list) or not tasks_json:
        raise _bad("tasks must be a non-empty list")
    tasks, libraries, keys = [], [], set()
    compute, timeouts = None, []
    for task in tasks_json:
        key = task.get("task_key")
        notebook = task.get("notebook_task")
        if not key or key in keys:
            raise _bad(f"every task needs a unique task_key; got {key!r}")
        if not isinstance(notebook, dict) or not str(notebook.get("notebook_path") or "").startswith("/"):
            raise _bad(f"task {key}: the emulator runs notebook tasks with an absolute notebook_path only")
        if str(notebook.get("source") or "WORKSPACE").upper() != "WORKSPACE":
            raise _bad(f"task {key}: notebook source {notebook.get('source')} is not supported by the emulator")
        keys.add(key)
        parameters = {str(k): str(v) for k, v in (notebook.get("base_parameters") or {}).items()}
        tasks.append(NotebookTask(task_key=key, notebook_path=notebook["notebook_path"], base_parameters=parameters))
        compute = compute or compute_from_task_fields(task)
        for library in task.get("libraries") or []:
            if library not in libraries:
                libraries.append(library)
        if int(task.get("timeout_seconds") or 0) > 0:
            timeouts.append(int(task["timeout_seconds"]))
    token = body.get("idempotency_token")
    if token is not None and len(str(token)) > 64:
        raise _bad("idempotency_token must be at most 64 characters")
    timeout = int(body.get("timeout_seconds") or 0) or (min(timeouts) if timeouts else 0)
    return RunSpec(
        run_name=str(body.get("run_name") or "Untitled"),
        tasks=tuple(tasks),
        compute=compute,
        libraries=tuple(libraries),
        timeout_seconds=timeout,
        idempotency_token=str(token) if token else None,
        tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
    )


def _run_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"run_id must be an integer; got {value!r}") from None


def _get_run(state: EmulatorState, run_id: int) -> Run:
    try:
        return state.backend.get_run(run_id)
    except NotFound:
        raise _bad(f"Run {run_id} does not exist.") from None


def _state_json(life_cycle_state: str, result_state: str | None, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {"life_cycle_state": life_cycle_state, "state_message": message}
    if result_state and life_cycle_state in TERMINAL_STATES:
        body["result_state"] = result_state
        body["user_cancelled_or_timedout"] = result_state in ("CANCELED", "TIMEDOUT")
    return body


def _page_url(request: Request, run_id: int) -> str:
    return f"{request.base_url}/#job/0/run/{run_id}"


def run_json(request: Request, state: EmulatorState, run: Run) -> dict[str, Any]:
    tasks = []
    for task in run.tasks:
        stored = state.backend.runs.stored_run(task.run_id)
        tasks.append(
            {
                "task_key": task.task_key,
                "run_id": task.run_id,
                "state": _state_json(task.life_cycle_state, task.result_state, task.state_message),
                "notebook_task": {"notebook_path": stored.notebook_path, "base_parameters": stored.base_parameters},
                "run_page_url": _page_url(request, task.run_id),
                "start_time": stored.start_time,
                "end_time": stored.end_time,
                "attempt_number": 0,
            }
        )
    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "run_type": "SUBMIT_RUN",
        "run_page_url": _page_url(request, run.run_id),
        "creator_user_name": "emulator@localhost",
        "state": _state_json(run.life_cycle_state, run.result_state, run.state_message),
        "start_time": run.start_time,
        "end_time": run.end_time if run.is_terminal else 0,
        "tasks": tasks,
    }


def submit(request: Request, state: EmulatorState, match) -> Response:
    spec = spec_from_body(request.json())
    request.target = spec.tasks[0].notebook_path
    run_id = state.backend.submit_run(spec)
    request.target = str(run_id)
    return json_response({"run_id": run_id})


def get(request: Request, state: EmulatorState, match) -> Response:
    run_id = _run_id(request.query.get("run_id"))
    request.target = str(run_id)
    return json_response(run_json(request, state, _get_run(state, run_id)))


def get_output(request: Request, state: EmulatorState, match) -> Response:
    run_id = _run_id(request.query.get("run_id"))
    request.target = str(run_id)
    try:
        stored = state.backend.runs.stored_run(run_id)
    except NotFound:
        raise _bad(f"Run {run_id} does not exist.") from None
    task_run_id = run_id
    if not stored.is_task:  # a parent
        if match.group("version") != "2.0" or len(stored.task_run_ids) != 1:
            raise _bad(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            )
        task_run_id = stored.task_run_ids[0]  # Jobs 2.0 answered for a single-task run's only task
    output: RunOutput = state.backend.get_run_output(task_run_id)
    parent = state.backend.get_run(stored.parent_run_id if stored.parent_run_id is not None else run_id)
    body: dict[str, Any] = {"metadata": run_json(request, state, parent)}
    if output.result is not None:
        result = output.result.encode()
        truncated = len(result) > OUTPUT_CAP or output.truncated
        body["notebook_output"] = {"result": result[:OUTPUT_CAP].decode(errors="ignore"), "truncated": truncated}
    else:
        body["notebook_output"] = {}
    for name in ("error", "error_trace", "logs"):
        if getattr(output, name):
            body[name] = getattr(output, name)
    return json_response(body)


def cancel(request: Request, state: EmulatorState, match) -> Response:
    run_id = _run_id(request.json().get("run_id"))
    request.target = str(run_id)
    _get_run(state, run_id)
    state.backend.cancel_run(run_id)
    return json_response({})


def export(request: Request, state: EmulatorState, match) -> Response:
    run_id = _run_id(request.query.get("run_id"))
    request.target = str(run_id)
    views = (request.query.get("views_to_export") or "CODE").upper()
    if views not in ("CODE", "DASHBOARDS", "ALL"):
        raise _bad(f"views_to_export must be CODE, DASHBOARDS or ALL; got {views}")
    _get_run(state, run_id)
    if views == "DASHBOARDS":
        return json_response({"views": []})
    stored = state.backend.runs.stored_run(run_id)
    first_task = state.backend.runs.stored_run(stored.task_run_ids[0]) if stored.task_run_ids else stored
    name = os.path.basename(str(first_task.notebook_path or stored.run_name or "notebook"))
    return json_response({"views": [{"content": state.backend.export_run(run_id), "name": name, "type": "NOTEBOOK"}]})


def list_runs(request: Request, state: EmulatorState, match) -> Response:
    query = request.query
    try:
        limit = int(query.get("limit") or 20) or MAX_LIST_LIMIT
        offset = int(query.get("page_token") or query.get("offset") or 0)
    except ValueError:
        raise _bad("limit, offset and page_token must be integers") from None
    if not 0 < limit <= MAX_LIST_LIMIT:
        raise _bad(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    if truthy(query.get("active_only")) and truthy(query.get("completed_only")):
        raise _bad("active_only and completed_only cannot both be true")
    runs = state.backend.list_runs(active_only=truthy(query.get("active_only")))
    if truthy(query.get("completed_only")):
        runs = [run for run in runs if run.is_terminal]
    page = runs[offset : offset + limit]
    body: dict[str, Any] = {"has_more": offset + limit < len(runs)}
    if page:
        body["runs"] = [run_json(request, state, run) for run in page]
    if body["has_more"]:
        body["next_page_token"] = str(offset + limit)
    return json_response(body)


_BASE = r"/api/(?P<version>2\.[012])/jobs/runs"
ROUTES = [
    Route.of("POST", _BASE + "/submit", submit, mutating=True, api="jobs"),
    Route.of("GET", _BASE + "/get", get, mutating=False, api="jobs"),
    Route.of("GET", _BASE + "/get-output", get_output, mutating=False, api="jobs"),
    Route.of("POST", _BASE + "/cancel", cancel, mutating=True, api="jobs"),
    Route.of("GET", _BASE + "/export", export, mutating=False, api="jobs"),
    Route.of("GET", _BASE + "/list", list_runs, mutating=False, api="jobs"),
]
