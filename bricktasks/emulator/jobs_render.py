"""Runs as the Jobs API shows them: the `Run` object of runs/get, runs/list and get-output's metadata.

Each task run carries its settings as submitted (the local store keeps `task_fields` of each task),
with the defaults a workspace fills in on read (`run_if` ALL_SUCCESS, `notebook_task.source`
WORKSPACE), beside its attempt, times, durations, the deprecated `state` (the SDK's waiter reads it)
and `status`. States and termination details follow reference 1.6; the combinations it leaves
unconfirmed are chosen in `TERMINATION` below and said there.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from bricktasks.backends.base import TERMINAL_STATES, RepairAttempt, Run, TaskRun
from bricktasks.dag.outcomes import run_verdict
from bricktasks.emulator.protocol import Request
from bricktasks.emulator.routing import EmulatorState
from bricktasks.errors import NotFound

__all__ = ["run_json", "task_run_json", "state_json", "status_json", "TERMINATION"]

# result_state -> termination_details (code, type). Real (reference 1.6): FAILED, SUCCESS. The rest are
# unconfirmed choices from the SDK's TerminationCodeCode docs: a user's cancel USER_CANCELED; a timeout
# CANCELED ("canceled by the Databricks platform; for example, if the maximum run duration was
# exceeded"); a task not run because of its upstream SKIPPED (type CLIENT_ERROR: the user's tasks
# failed; SUCCESS for EXCLUDED, which counts as a success).
TERMINATION: dict[str, tuple[str, str]] = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "SUCCESS_WITH_FAILURES": ("SUCCESS_WITH_FAILURES", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("CANCELED", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "CLIENT_ERROR"),
    "UPSTREAM_FAILED": ("SKIPPED", "CLIENT_ERROR"),
    "UPSTREAM_CANCELED": ("SKIPPED", "CLIENT_ERROR"),
    "EXCLUDED": ("SKIPPED", "SUCCESS"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
    "DISABLED": ("DISABLED", "CLIENT_ERROR"),
}
# life_cycle_state -> status.state (RunLifecycleStateV2State)
_STATUS_STATE = {"QUEUED": "QUEUED", "PENDING": "PENDING", "RUNNING": "RUNNING", "TERMINATING": "TERMINATING",
                 "BLOCKED": "BLOCKED", "WAITING_FOR_RETRY": "WAITING"}


def state_json(life_cycle_state: str, result_state: str | None, message: str) -> dict[str, Any]:
    """The deprecated `state` (still what the SDK's waiter reads)."""
    body: dict[str, Any] = {"life_cycle_state": life_cycle_state, "state_message": message}
    if result_state and life_cycle_state in TERMINAL_STATES:
        body["result_state"] = result_state
        body["user_cancelled_or_timedout"] = result_state in ("CANCELED", "TIMEDOUT")
    return body


def status_json(life_cycle_state: str, result_state: str | None, message: str) -> dict[str, Any]:
    """`status`: the lifecycle as RunLifecycleStateV2State, and once terminal, why it ended."""
    if life_cycle_state not in TERMINAL_STATES:
        return {"state": _STATUS_STATE.get(life_cycle_state, "PENDING")}
    code, kind = TERMINATION.get(result_state or "", ("INTERNAL_ERROR", "INTERNAL_ERROR"))
    return {"state": "TERMINATED", "termination_details": {"code": code, "type": kind, "message": message}}


def _page_url(request: Request, run_id: int, job_id: int | None = None) -> str:
    return f"{request.base_url}/#job/{job_id or 0}/run/{run_id}"


def _durations(task: TaskRun, setup_ms: int) -> dict[str, int]:
    """A task's durations in ms. The local backend keeps no set-up phase of its own: a modelled
    cluster start-up (`setup_ms`, spent PENDING after start_time) is the set-up, the rest execution."""
    elapsed = task.duration_ms if task.is_terminal else 0
    setup = min(setup_ms, elapsed)
    return {"setup_duration": setup, "execution_duration": elapsed - setup, "cleanup_duration": 0, "run_duration": elapsed}


def _cluster_instance(settings: Mapping[str, Any], task: TaskRun) -> dict[str, str] | None:
    """The cluster a classic task runs on, once it started: the existing one, or its new cluster, named
    in the real ids' form (`MMDD-HHMMSS-xxxxxxxx`, reference 1.10). Serverless tasks show none."""
    if not task.start_time:
        return None
    if settings.get("existing_cluster_id"):
        cluster_id = str(settings["existing_cluster_id"])
    elif settings.get("new_cluster"):
        started = time.strftime("%m%d-%H%M%S", time.gmtime(task.start_time / 1000))
        cluster_id = f"{started}-emu{task.run_id % 100000:05d}"
    else:
        return None
    return {"cluster_id": cluster_id, "spark_context_id": str(task.run_id)}


def task_json(
    request: Request, state: EmulatorState, task: TaskRun, *, cluster_start_s: float = 0.0,
    performance_target: str | None = None,
) -> dict[str, Any]:
    """One RunTask: the task's settings as submitted (defaults filled), then what happened to it.
    `cluster_start_s`: the start-up the run was submitted with (a new cluster's task spent it PENDING);
    `performance_target`: the run's, which applies to its serverless tasks."""
    stored = state.backend.runs.stored_run(task.run_id)
    # a record written before the store kept settings has its notebook only
    settings = stored.settings or {
        "notebook_task": {"notebook_path": stored.notebook_path, "base_parameters": stored.base_parameters}
    }
    entry: dict[str, Any] = copy.deepcopy(dict(settings))
    entry.setdefault("run_if", "ALL_SUCCESS")
    notebook = entry.setdefault("notebook_task", {"notebook_path": stored.notebook_path})
    notebook.setdefault("source", "WORKSPACE")
    setup_ms = int(cluster_start_s * 1000) if settings.get("new_cluster") else 0
    entry.update(
        task_key=task.task_key,
        run_id=task.run_id,
        attempt_number=task.attempt_number,
        state=state_json(task.life_cycle_state, task.result_state, task.state_message),
        status=status_json(task.life_cycle_state, task.result_state, task.state_message),
        run_page_url=_page_url(request, task.run_id),
        start_time=task.start_time,
        end_time=task.end_time if task.is_terminal else 0,
        **_durations(task, setup_ms),
    )
    cluster = _cluster_instance(settings, task)
    if cluster:
        entry["cluster_instance"] = cluster
    elif performance_target and not (settings.get("new_cluster") or settings.get("existing_cluster_id")):  # serverless
        entry["effective_performance_target"] = performance_target
    return entry


def _run_record(state: EmulatorState, run_id: int) -> Mapping[str, Any]:
    """The store's record of the run: the runs/submit body it kept (`spec`), its start-up model."""
    try:
        return state.backend.runs.read(run_id)
    except NotFound:
        return {}


def _attempt_json(state: EmulatorState, attempt: RepairAttempt, run: Run, newest: bool) -> dict[str, Any]:
    """One repair_history item: the original run or a repair, with the state it ended in."""
    if newest:
        life, result, message = run.life_cycle_state, run.result_state, run.state_message
    else:  # an earlier attempt has ended: its tasks' worst outcome stands for it
        life, result, message = _ended_attempt_state(state, attempt)
    item: dict[str, Any] = {
        "type": "ORIGINAL" if attempt.repair_id is None else "REPAIR",
        "start_time": attempt.start_time,
        "end_time": attempt.end_time,
        "state": state_json(life, result, message),
        "status": status_json(life, result, message),
        "task_run_ids": list(attempt.task_run_ids),
    }
    if attempt.repair_id is not None:
        item["id"] = attempt.repair_id
    return item


def _ended_attempt_state(state: EmulatorState, attempt: RepairAttempt) -> tuple[str, str | None, str]:
    """The verdict of an ended attempt over the tasks it ran (each task's last attempt in it), by the
    run rules of dag.outcomes (what the real API shows for an earlier attempt: unconfirmed)."""
    results: dict[str, str] = {}
    dependencies: dict[str, list[str]] = {}
    failure_messages: dict[str, str] = {}
    for task_run_id in attempt.task_run_ids:  # in order: a retry comes after the attempt it retries
        try:
            record = state.backend.runs.read(task_run_id)
        except NotFound:
            continue
        results[record["task_key"]] = record["state"].get("result_state") or "FAILED"
        dependencies[record["task_key"]] = list(record.get("depends_on") or [])
        if record["state"].get("life_cycle_state") == "INTERNAL_ERROR" and record["state"].get("state_message"):
            failure_messages[record["task_key"]] = record["state"]["state_message"]  # as the local scheduler quotes it
    if not results:
        return "TERMINATED", "SUCCESS", ""
    ran = {key: [dependency for dependency in upstream if dependency in results] for key, upstream in dependencies.items()}
    verdict = run_verdict(results, ran, failure_messages)
    return verdict.life_cycle_state, verdict.result_state, verdict.state_message


def run_json(request: Request, state: EmulatorState, run: Run, *, include_history: bool = False,
             include_tasks: bool = True) -> dict[str, Any]:
    """The Run object (reference 1.5): number_in_job == run_id, MULTI_TASK, `state` and `status`,
    the run-level settings that were given; never a next_page_token (tasks are not paged here)."""
    record = _run_record(state, run.run_id)
    settings: Mapping[str, Any] = record.get("spec") or {}
    terminal = run.is_terminal
    run_duration = max(0, run.end_time - run.start_time) if terminal and run.start_time and run.end_time else 0
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "number_in_job": run.run_id,
        "original_attempt_run_id": run.run_id,
        "job_run_id": run.run_id,
        "run_name": run.run_name,
        "run_type": "SUBMIT_RUN",
        "trigger": "ONE_TIME",
        "format": "MULTI_TASK",
        "run_page_url": _page_url(request, run.run_id),
        "creator_user_name": state.identity.user_name,
        "attempt_number": 0,
        "state": state_json(run.life_cycle_state, run.result_state, run.state_message),
        "status": status_json(run.life_cycle_state, run.result_state, run.state_message),
        "start_time": run.start_time,
        "end_time": run.end_time if terminal else 0,
        # the docs: 0 for multi-task runs (the tasks carry their own); run_duration is the whole run's
        "setup_duration": 0, "execution_duration": 0, "cleanup_duration": 0, "run_duration": run_duration,
    }
    if run.job_id is not None:  # a run of a saved job (run-now)
        body.update(
            job_id=run.job_id, run_type="JOB_RUN", trigger=str(record.get("trigger") or "ONE_TIME"),
            run_page_url=_page_url(request, run.run_id, run.job_id),
        )
        if record.get("job_parameters"):
            body["job_parameters"] = copy.deepcopy(record["job_parameters"])
        if record.get("overriding_parameters"):
            body["overriding_parameters"] = copy.deepcopy(record["overriding_parameters"])
    if settings.get("timeout_seconds"):
        body["timeout_seconds"] = settings["timeout_seconds"]
    if settings.get("environments"):
        body["environments"] = copy.deepcopy(settings["environments"])
    if settings.get("performance_target"):
        body["performance_target"] = settings["performance_target"]
        body["effective_performance_target"] = settings["performance_target"]
    if include_tasks:
        start_s = float(record.get("cluster_start_s") or 0.0)
        target = settings.get("performance_target")
        body["tasks"] = [
            task_json(request, state, task, cluster_start_s=start_s, performance_target=target) for task in run.tasks
        ]
    if include_history and run.repair_history:
        last = len(run.repair_history) - 1
        body["repair_history"] = [
            _attempt_json(state, attempt, run, index == last) for index, attempt in enumerate(run.repair_history)
        ]
    return body


# what a task's RunTask entry says about that task alone, copied over the run's fields in task_run_json
_TASK_OWN = ("run_id", "attempt_number", "state", "status", "run_page_url", "start_time", "end_time",
             "setup_duration", "execution_duration", "cleanup_duration", "run_duration", "cluster_instance")


def task_run_json(request: Request, state: EmulatorState, run: Run, task_run_id: int) -> dict[str, Any]:
    """get-output's `metadata` for a task run (reference 1.7: the Run of the *task* run): the run's
    fields with the task's own id, state, times and cluster, its `task_key`, `parent_run_id` and
    `job_run_id` naming the run it belongs to, and `tasks` holding that task alone."""
    body = run_json(request, state, run)
    task = next((entry for entry in body.get("tasks", []) if entry["run_id"] == task_run_id), None)
    if task is None:  # not one of the run's tasks (the caller looked it up as one): the run as it is
        return body
    body.update({key: task[key] for key in _TASK_OWN if key in task})
    first = next(entry for entry in body["tasks"] if entry["task_key"] == task["task_key"])  # a retry's original
    body.update(
        number_in_job=task_run_id, original_attempt_run_id=first["run_id"], task_key=task["task_key"],
        parent_run_id=run.run_id, job_run_id=run.run_id, tasks=[task],
    )
    if run.job_id is not None:
        body["run_page_url"] = _page_url(request, task_run_id, run.job_id)
    return body
