"""Saved jobs of the Jobs API over the local backend, on /api/2.0, /2.1 and /2.2 (reference 1.1).

jobs/create, get, list, reset, update, delete and run-now; the state and its rules are the local
backend's (`backends/local_jobs`: the jobs live in the root, so they outlive the emulator), this
module is HTTP only. An unknown job answers 400 INVALID_PARAMETER_VALUE "Job <id> does not exist."
on every endpoint (the SDK turns it into a NotFound on jobs/get; for the writes the real answer is
unconfirmed, and the same one is the safe choice). Lists never send an empty next_page_token: the
SDK would loop on it. Only the multi-task shape (`tasks[]`) is accepted, on 2.0 too; a job written
through 2.0/2.1 without `queue` gets queueing off, as only 2.2 turns it on by default.
"""
from __future__ import annotations

from typing import Any

from bricktasks.backends.base import Job
from bricktasks.backends.local_jobs import merge_update, resolved_tasks
from bricktasks.backends.task_rules import MAX_TOKEN
from bricktasks.emulator.protocol import ApiError, Request, Response, json_response, truthy
from bricktasks.emulator.routing import EmulatorState, Route
from bricktasks.errors import InvalidRequest, NotFound

__all__ = ["ROUTES", "job_json"]

MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
# run-now parameters of task types the emulator does not run (it runs notebook tasks only)
_OTHER_PARAMS = ("python_params", "python_named_params", "jar_params", "spark_submit_params", "sql_params", "dbt_commands", "only")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _job_id(value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(f"job_id must be an integer; got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"job_id must be an integer; got {value!r}") from None


def _missing_job(job_id: int) -> ApiError:
    return _bad(f"Job {job_id} does not exist.")  # reference 1.9, the SDK's override's words


def job_json(job: Job, *, expand_tasks: bool = True, full: bool = True, creator: str | None = None) -> dict[str, Any]:
    """A Job (jobs/get, `full`) or a BaseJob (jobs/list); never a next_page_token: arrays are not paged here.
    `creator`: the emulator's user, who made every job it serves (the local store names no one real)."""
    creator = creator or job.creator_user_name
    settings = dict(job.settings)
    if not expand_tasks:
        settings.pop("tasks", None)
        settings.pop("job_clusters", None)
    body: dict[str, Any] = {
        "job_id": job.job_id, "creator_user_name": creator, "created_time": job.created_time, "settings": settings,
    }
    if full:
        body["run_as_user_name"] = creator
    elif expand_tasks:
        body["has_more"] = False
    return body


def _settings(value: Any, state: EmulatorState, *, what: str, version: str) -> dict[str, Any]:
    """The settings to save: checked as this workspace would (serverless or not), with queueing off
    for a job written through 2.0/2.1 that does not say (on by default only for 2.2, reference 1.2)."""
    if not isinstance(value, dict):
        raise _bad(f"{what} must be a JSON object (JobSettings)")
    if not state.serverless:  # a workspace without serverless jobs refuses a task naming no compute
        resolved_tasks(value, serverless=False)
    if version != "2.2" and "queue" not in value:
        value = {**value, "queue": {"enabled": False}}
    return value


def create(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    body.pop("access_control_list", None)  # permissions are not modelled: the creator may do everything
    job_id = state.backend.create_job(_settings(body, state, what="the request body", version=match.group("version")))
    request.target = str(job_id)
    return json_response({"job_id": job_id})


def get(request: Request, state: EmulatorState, match) -> Response:
    job_id = _job_id(request.query.get("job_id"))
    request.target = str(job_id)
    try:
        job = state.backend.get_job(job_id)
    except NotFound:
        raise _missing_job(job_id) from None
    return json_response(job_json(job, creator=state.identity.user_name))


def list_jobs(request: Request, state: EmulatorState, match) -> Response:
    query = request.query
    try:
        limit = int(query.get("limit") or DEFAULT_LIST_LIMIT)
        offset = int(query.get("page_token") or query.get("offset") or 0)
    except ValueError:
        raise _bad("limit, offset and page_token must be integers") from None
    if not 0 < limit <= MAX_LIST_LIMIT:
        raise _bad(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    if offset < 0:
        raise _bad("offset and page_token must be 0 or more")
    jobs = state.backend.list_jobs(name=query.get("name") or None)
    page = jobs[offset : offset + limit]
    body: dict[str, Any] = {"has_more": offset + limit < len(jobs)}
    if page:
        expand = truthy(query.get("expand_tasks"))
        body["jobs"] = [job_json(job, expand_tasks=expand, full=False, creator=state.identity.user_name) for job in page]
    if body["has_more"]:
        body["next_page_token"] = str(offset + limit)
    if offset:
        body["prev_page_token"] = str(max(0, offset - limit))
    return json_response(body)


def _existing(state: EmulatorState, job_id: int) -> None:
    try:
        state.backend.get_job(job_id)
    except NotFound:
        raise _missing_job(job_id) from None


def reset(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    job_id = _job_id(body.get("job_id"))
    request.target = str(job_id)
    if "new_settings" not in body:
        raise _bad("Missing required field: new_settings")
    _existing(state, job_id)
    state.backend.reset_job(job_id, _settings(body["new_settings"], state, what="new_settings", version=match.group("version")))
    return json_response({})


def update(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    job_id = _job_id(body.get("job_id"))
    request.target = str(job_id)
    new_settings = body.get("new_settings") or {}
    if not isinstance(new_settings, dict):
        raise _bad("new_settings must be a JSON object (JobSettings)")
    removals = body.get("fields_to_remove") or []
    if not isinstance(removals, list) or not all(isinstance(name, str) for name in removals):
        raise _bad("fields_to_remove must be a list of field names")
    _existing(state, job_id)
    if not state.serverless:  # the merged settings, checked as a workspace without serverless would
        resolved_tasks(merge_update(state.backend.get_job(job_id).settings, new_settings, removals), serverless=False)
    state.backend.update_job(job_id, new_settings, removals)
    return json_response({})


def delete(request: Request, state: EmulatorState, match) -> Response:
    job_id = _job_id(request.json().get("job_id"))
    request.target = str(job_id)
    try:
        state.backend.delete_job(job_id)
    except NotFound:
        raise _missing_job(job_id) from None
    return json_response({})


def _string_map(value: Any, name: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(f"{name} must be an object of strings")
    return {str(key): str(item) for key, item in value.items()}


def run_now(request: Request, state: EmulatorState, match) -> Response:
    body = request.json()
    job_id = _job_id(body.get("job_id"))
    request.target = str(job_id)
    other = next((name for name in _OTHER_PARAMS if body.get(name)), None)
    if other:
        raise _bad(f"{other} is not supported by the emulator, which runs notebook tasks only")
    token = body.get("idempotency_token") or None
    if token is not None and len(str(token)) > MAX_TOKEN:
        raise _bad(f"idempotency_token must be at most {MAX_TOKEN} characters")
    _existing(state, job_id)
    try:
        run_id = state.backend.run_now(
            job_id, job_parameters=_string_map(body.get("job_parameters"), "job_parameters"),
            notebook_params=_string_map(body.get("notebook_params"), "notebook_params"),
            idempotency_token=None if token is None else str(token),
        )
    except InvalidRequest as exc:
        raise _bad(exc.message) from None
    return json_response({"run_id": run_id, "number_in_job": run_id})


_BASE = r"/api/(?P<version>2\.[012])/jobs"
ROUTES = [
    Route.of("POST", _BASE + "/create", create, mutating=True, api="jobs"),
    Route.of("GET", _BASE + "/get", get, mutating=False, api="jobs"),
    Route.of("GET", _BASE + "/list", list_jobs, mutating=False, api="jobs"),
    Route.of("POST", _BASE + "/reset", reset, mutating=True, api="jobs"),
    Route.of("POST", _BASE + "/update", update, mutating=True, api="jobs"),
    Route.of("POST", _BASE + "/delete", delete, mutating=True, api="jobs"),
    Route.of("POST", _BASE + "/run-now", run_now, mutating=True, api="jobs"),
]
