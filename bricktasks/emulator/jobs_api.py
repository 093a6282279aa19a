"""Jobs API one-time runs over the local backend, on /api/2.0, /2.1 and /2.2.

runs/submit takes the `tasks[]` shape and the old top-level single-task shape, validated as the
real API validates them (jobs_submit.py); only notebook tasks run (locally, through
`LocalBackend.submit_run`, which runs them in `depends_on` order). runs/get answers the Run
object of jobs_render.py. runs/delete removes a finished run; runs/cancel-all cancels a job's active
runs. runs/repair (2.1+) reruns tasks of a finished run within it. A missing
run answers 400 INVALID_PARAMETER_VALUE "Run N does not exist." as Databricks does.
"""
from __future__ import annotations

import os
from typing import Any

from bricktasks.backends.base import Run, RunOutput
from bricktasks.emulator.jobs_render import run_json, task_run_json
from bricktasks.emulator.jobs_submit import spec_from_body
from bricktasks.emulator.protocol import ApiError, Request, Response, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import InvalidRequest, NotFound

__all__ = ["ROUTES", "spec_from_body"]

RUN_TYPES = ("JOB_RUN", "WORKFLOW_RUN", "SUBMIT_RUN")
OUTPUT_CAP = 5 * 1024 * 1024
MAX_LIST_LIMIT = 25


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


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


def submit(request: Request, state: EmulatorState, match) -> Response:
    spec = spec_from_body(request.json(), version=match.group("version"), serverless=state.serverless)
    request.target = spec.tasks[0].notebook_path
    run_id = state.backend.submit_run(spec)
    request.target = str(run_id)
    return json_response({"run_id": run_id})


def get(request: Request, state: EmulatorState, match) -> Response:
    run_id = _run_id(request.query.get("run_id"))
    request.target = str(run_id)
    run = _get_run(state, run_id)
    return json_response(run_json(request, state, run, include_history=truthy(request.query.get("include_history"))))


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
    body: dict[str, Any] = {"metadata": task_run_json(request, state, parent, task_run_id)}
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


def cancel_all(request: Request, state: EmulatorState, match) -> Response:
    """runs/cancel-all: every active run of `job_id`; without one, `all_queued_runs` cancels the
    workspace's queued runs. Neither given is refused: cancelling every run by accident is not safe."""
    body = request.json()
    job_id, queued_only = body.get("job_id"), truthy(body.get("all_queued_runs"))
    if job_id in (None, "") and not queued_only:
        raise _bad("Either job_id or all_queued_runs must be given.")
    if job_id not in (None, ""):
        request.target = str(job_id)
        try:
            runs = state.backend.runs.list(active_only=True, job_id=int(job_id))
        except (TypeError, ValueError):
            raise _bad(f"job_id must be an integer; got {job_id!r}") from None
    else:
        runs = [run for run in state.backend.runs.list(active_only=True, every=True) if run.life_cycle_state == "QUEUED"]
    for run in runs:
        state.backend.cancel_run(run.run_id)
    return json_response({})


def delete(request: Request, state: EmulatorState, match) -> Response:
    """runs/delete: a finished run goes; an active one answers 400 (its code is unconfirmed: refused safely)."""
    run_id = _run_id(request.json().get("run_id"))
    request.target = str(run_id)
    _get_run(state, run_id)
    try:
        state.backend.runs.delete(run_id)
    except InvalidRequest as exc:
        raise _bad(exc.message) from None
    return json_response({})


def repair(request: Request, state: EmulatorState, match) -> Response:
    """runs/repair: rerun the named (or all failed) tasks of a finished run, in the same run."""
    body = request.json()
    run_id = _run_id(body.get("run_id"))
    request.target = str(run_id)
    _get_run(state, run_id)
    rerun_tasks = body.get("rerun_tasks") or []
    if not isinstance(rerun_tasks, list) or not all(isinstance(key, str) for key in rerun_tasks):
        raise _bad("rerun_tasks must be a list of task keys")
    latest = body.get("latest_repair_id")
    try:
        repair_id = state.backend.repair_run(
            run_id, rerun_tasks=rerun_tasks, rerun_all_failed_tasks=truthy(body.get("rerun_all_failed_tasks")),
            rerun_dependent_tasks=truthy(body.get("rerun_dependent_tasks")),
            latest_repair_id=None if latest is None else _run_id(latest),
        )
    except InvalidRequest as exc:  # an active run, a missing or stale latest_repair_id, an unknown task
        raise _bad(exc.message) from None
    return json_response({"repair_id": repair_id})


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
    runs = _runs_of(state, query.get("job_id"), query.get("run_type"), active_only=truthy(query.get("active_only")))
    if truthy(query.get("completed_only")):
        runs = [run for run in runs if run.is_terminal]
    page = runs[offset : offset + limit]
    body: dict[str, Any] = {"has_more": offset + limit < len(runs)}
    if page:
        tasks = truthy(request.query.get("expand_tasks"))
        body["runs"] = [run_json(request, state, run, include_tasks=tasks) for run in page]
    if body["has_more"]:
        body["next_page_token"] = str(offset + limit)
    return json_response(body)


def _runs_of(state: EmulatorState, job_id: Any, run_type: Any, *, active_only: bool) -> list[Run]:
    """runs/list's selection: one job's runs, or without job_id every run (reference 1.1), of `run_type` if given."""
    if run_type not in (None, "", *RUN_TYPES):
        raise _bad(f"run_type must be one of {', '.join(RUN_TYPES)}; got {run_type!r}")
    if job_id not in (None, ""):
        try:
            runs = state.backend.runs.list(active_only=active_only, job_id=int(job_id))
        except ValueError:
            raise _bad(f"job_id must be an integer; got {job_id!r}") from None
    else:
        runs = state.backend.runs.list(active_only=active_only, every=True)
    if run_type == "SUBMIT_RUN":
        return [run for run in runs if run.job_id is None]
    if run_type == "JOB_RUN":
        return [run for run in runs if run.job_id is not None]
    if run_type == "WORKFLOW_RUN":  # dbutils.notebook.run's runs: the local runtime starts none
        return []
    return runs


_BASE = r"/api/(?P<version>2\.[012])/jobs/runs"
ROUTES = [
    Route.of("POST", _BASE + "/submit", submit, mutating=True, api="jobs"),
    Route.of("GET", _BASE + "/get", get, mutating=False, api="jobs"),
    Route.of("GET", _BASE + "/get-output", get_output, mutating=False, api="jobs"),
    Route.of("POST", _BASE + "/cancel", cancel, mutating=True, api="jobs"),
    Route.of("POST", _BASE + "/delete", delete, mutating=True, api="jobs"),
    Route.of("POST", r"/api/(?P<version>2\.[12])/jobs/runs/cancel-all", cancel_all, mutating=True, api="jobs"),
    Route.of("POST", r"/api/(?P<version>2\.[12])/jobs/runs/repair", repair, mutating=True, api="jobs"),
    Route.of("GET", _BASE + "/export", export, mutating=False, api="jobs"),
    Route.of("GET", _BASE + "/list", list_runs, mutating=False, api="jobs"),
]
