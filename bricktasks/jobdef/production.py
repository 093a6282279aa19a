"""The production jobs in git (jobs/production/<name>.json): a saved job's settings in the Jobs API's shape.

    {"name": "Forecast training", "schedule": {"quartz_cron_expression": "0 0 3 * * ?",
     "timezone_id": "Europe/Amsterdam", "pause_status": "UNPAUSED"}, "tasks": [...], ...}

The tasks, job_clusters and environments are checked exactly as the CI definition's (definition.check_tasks;
notebook paths relative to the source folder); the job-level fields here. Every file is checked before
anything is deployed; a mistake is one ConfigError line naming the file and the JSON path.
"""
from __future__ import annotations

import copy
import re
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bricktasks.errors import ConfigError
from bricktasks.jobdef import fields as api
from bricktasks.jobdef.definition import (
    PERFORMANCE_TARGETS,
    TaskDefinition,
    _check_fields,
    _choice,
    _integer,
    _list,
    _object,
    _text,
    _Where,
    check_tasks,
)
from bricktasks.jobdef.jsonfile import read_json_file
from bricktasks.jobdef.quartz import DATABRICKS_CRON_HINT, quartz_problem

__all__ = ["ProductionJob", "load_production_jobs", "TAG_PREFIX", "PAUSE_STATUSES", "EDIT_MODES"]

HINT = "see bricktasks' docs/jobs.md"
PAUSE_STATUSES = ("UNPAUSED", "PAUSED")  # jobs.PauseStatus
EDIT_MODES = ("EDITABLE", "UI_LOCKED")  # jobs.JobEditMode
HEALTH_METRICS = ("RUN_DURATION_SECONDS", "STREAMING_BACKLOG_BYTES", "STREAMING_BACKLOG_FILES",
                  "STREAMING_BACKLOG_RECORDS", "STREAMING_BACKLOG_SECONDS")  # jobs.JobsHealthMetric
HEALTH_OPERATORS = ("GREATER_THAN",)  # jobs.JobsHealthOperator
TAG_PREFIX = "bricktasks-"  # our ownership tags (deployed.py); a definition may not set them
MAX_TAGS = 25  # reference 1.3
MAX_NAME_BYTES = 4096
MAX_CONCURRENT_RUNS = 1000
# the file's stem names the job in our tag: plain characters only, so it is safe in a tag and a message
FILE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
COMMENT = "$comment"


@dataclass(frozen=True)
class ProductionJob:
    """One checked file. `settings` is the file's JSON without `$comment`s and with notebook paths
    normalised to the notebook's name in the source folder (no ".py"); deployed.py makes them absolute."""

    file: str  # "training.json": the job's identity in our tags, with the project's root
    shown: str  # "jobs/production/training.json", for messages
    name: str
    settings: dict[str, Any]
    tasks: tuple[TaskDefinition, ...]


def load_production_jobs(folder: Path, *, shown: str, notebooks: Collection[str], source_dir: str) -> list[ProductionJob]:
    """Every `*.json` in `folder` (sorted by file name), checked; no folder means no jobs. `shown` names
    the folder in messages ("jobs/production"); duplicate job names across files are refused."""
    if not folder.is_dir():
        return []
    jobs: list[ProductionJob] = []
    first: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        job = load_production_job(path, shown=f"{shown}/{path.name}", notebooks=notebooks, source_dir=source_dir)
        if job.name in first:
            raise _Where(job.shown, "name").error(
                f"{job.name!r} is also the name of {first[job.name]}", "give every job a name of its own", )
        first[job.name] = job.shown
        jobs.append(job)
    return jobs


def load_production_job(path: Path, *, shown: str, notebooks: Collection[str], source_dir: str) -> ProductionJob:
    top = _Where(shown)
    if not FILE_STEM.fullmatch(path.stem):
        raise ConfigError(f"{shown[:120]!r}: a job's file name takes letters, digits, '_', '.', '-' only",
                          "rename it, e.g. jobs/production/training.json")
    hint = f'write a JSON object with "name" and "tasks": [...]; {HINT}'
    data = read_json_file(path, f"job definition {shown}", hint)
    if not isinstance(data, dict):
        raise top.error("must be a JSON object", hint)
    _check_fields(top, data, api.PRODUCTION_JOB, user="deploy")
    name = _text(top.at("name"), data.get("name"))
    if len(name.encode()) > MAX_NAME_BYTES:
        raise top.at("name").error(f"is {len(name.encode())} bytes; the Jobs API takes at most {MAX_NAME_BYTES}", "shorten it")
    tasks, _ = check_tasks(top, data, notebooks=notebooks, source_dir=source_dir, hint=hint, user="deploy")
    _check_job_level(top, data)
    settings = _without_comments(data)
    for task, checked in zip(settings["tasks"], tasks, strict=True):
        task["notebook_task"]["notebook_path"] = checked.notebook
    return ProductionJob(file=path.name, shown=shown, name=name, settings=settings, tasks=tasks)


# ---- the job-level fields ----------------------------------------------------------------------------


def _check_job_level(top: _Where, data: Mapping[str, Any]) -> None:
    if "description" in data:
        _text(top.at("description"), data["description"])
    if "schedule" in data:
        _schedule(top.at("schedule"), data["schedule"])
    if "email_notifications" in data:
        _email_notifications(top.at("email_notifications"), data["email_notifications"])
    if "webhook_notifications" in data:
        _webhook_notifications(top.at("webhook_notifications"), data["webhook_notifications"])
    if "notification_settings" in data:
        settings = _object(top.at("notification_settings"), data["notification_settings"], api.JOB_NOTIFICATION_SETTINGS)
        for key, value in settings.items():
            _boolean(top.at("notification_settings").at(key), value)
    if "max_concurrent_runs" in data:
        runs = _integer(top.at("max_concurrent_runs"), data["max_concurrent_runs"], 0)
        if runs > MAX_CONCURRENT_RUNS:
            raise top.at("max_concurrent_runs").error(f"{runs} is more than the Jobs API's {MAX_CONCURRENT_RUNS}")
    if "parameters" in data:
        _parameters(top.at("parameters"), data["parameters"])
    if "tags" in data:
        _tags(top.at("tags"), data["tags"])
    if "timeout_seconds" in data:
        _integer(top.at("timeout_seconds"), data["timeout_seconds"], 0)
    if "queue" in data:
        queue = _object(top.at("queue"), data["queue"], api.QUEUE)
        if "enabled" not in queue:
            raise top.at("queue").error("has no enabled", 'write "queue": {"enabled": true}')
        _boolean(top.at("queue").at("enabled"), queue["enabled"])
    if "health" in data:
        _health(top.at("health"), data["health"])
    if "performance_target" in data:
        _choice(top.at("performance_target"), data["performance_target"], PERFORMANCE_TARGETS)
    if "edit_mode" in data:
        _choice(top.at("edit_mode"), data["edit_mode"], EDIT_MODES)


def _schedule(where: _Where, value: Any) -> None:
    schedule = _object(where, value, api.CRON_SCHEDULE)
    for required in ("quartz_cron_expression", "timezone_id"):
        if required not in schedule:
            raise where.error(f"has no {required}", 'write {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC"}')
    expression = _text(where.at("quartz_cron_expression"), schedule["quartz_cron_expression"])
    problem = quartz_problem(expression)
    if problem:
        shown = expression if len(expression) <= 80 else expression[:80] + "..."
        raise where.at("quartz_cron_expression").error(
            f"Invalid quartz_cron_expression: {shown!r} ({problem})", DATABRICKS_CRON_HINT)
    zone = _text(where.at("timezone_id"), schedule["timezone_id"])
    if zone not in _time_zones():
        closest = _closest_zone(zone)
        shown_zone = zone if len(zone) <= 60 else zone[:60] + "..."
        hint = f"did you mean {closest!r}?" if closest else "use a Java/IANA time zone id, e.g. 'Europe/Amsterdam' or 'UTC'"
        raise where.at("timezone_id").error(f"{shown_zone!r} is not a time zone id", hint)
    if "pause_status" in schedule:
        _choice(where.at("pause_status"), schedule["pause_status"], PAUSE_STATUSES)


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    # the IANA database Java's ZoneId reads too; a membership test, so a name is never opened as a path
    return frozenset(zoneinfo.available_timezones())


def _closest_zone(zone: str) -> str | None:
    import difflib

    found = difflib.get_close_matches(zone, sorted(_time_zones()), n=1, cutoff=0.6)
    return found[0] if found else None


def _email_notifications(where: _Where, value: Any) -> None:
    notifications = _object(where, value, api.JOB_EMAIL_NOTIFICATIONS)
    for event, addresses in notifications.items():
        if event == "no_alert_for_skipped_runs":
            _boolean(where.at(event), addresses)
            continue
        for number, address in enumerate(_list(where.at(event), addresses)):
            text = _text(where.at(event).at(number), address)
            if "@" not in text or any(character.isspace() for character in text):
                raise where.at(event).at(number).error(f"{text[:80]!r} is not an e-mail address", "write name@example.com")


def _webhook_notifications(where: _Where, value: Any) -> None:
    notifications = _object(where, value, api.WEBHOOK_NOTIFICATIONS)
    for event, hooks in notifications.items():
        for number, hook in enumerate(_list(where.at(event), hooks)):
            spot = where.at(event).at(number)
            _text(spot.at("id"), _object(spot, hook, api.WEBHOOK).get("id"))


def _parameters(where: _Where, value: Any) -> None:
    seen: dict[str, int] = {}
    for number, item in enumerate(_list(where, value)):
        spot = where.at(number)
        parameter = _object(spot, item, api.JOB_PARAMETER)
        name = _text(spot.at("name"), parameter.get("name"))
        spot = where.at(number, name[:60])
        if "default" not in parameter:
            raise spot.error("has no default (the Jobs API requires one)", 'write {"name": ..., "default": ""}')
        if not isinstance(parameter["default"], str):
            raise spot.at("default").error("must be a string (the Jobs API passes parameters as strings)")
        if name in seen:
            raise spot.at("name").error(f"{name[:60]!r} is also the name of parameters[{seen[name]}]",
                                        "give every parameter a name of its own")
        seen[name] = number


def _tags(where: _Where, value: Any) -> None:
    tags = _object(where, value)
    if len(tags) > MAX_TAGS:
        raise where.error(f"has {len(tags)} tags; the Jobs API takes at most {MAX_TAGS} (deploy adds its own)")
    for key, item in tags.items():
        if not isinstance(item, str):
            raise where.at(key[:60]).error("must be a string")
        if key.startswith(TAG_PREFIX):
            raise where.at(key[:60]).error(f"tags starting {TAG_PREFIX!r} are deploy's own (it finds its jobs by them)",
                                           "rename the tag")


def _health(where: _Where, value: Any) -> None:
    health = _object(where, value, api.HEALTH)
    for number, item in enumerate(_list(where.at("rules"), health.get("rules"))):
        spot = where.at("rules").at(number)
        rule = _object(spot, item, api.HEALTH_RULE)
        _choice(spot.at("metric"), rule.get("metric"), HEALTH_METRICS)
        _choice(spot.at("op"), rule.get("op"), HEALTH_OPERATORS)
        _integer(spot.at("value"), rule.get("value"), 0)


def _boolean(where: _Where, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error("must be true or false")
    return value


def _without_comments(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_comments(item) for key, item in value.items() if key != COMMENT}
    if isinstance(value, list):
        return [_without_comments(item) for item in value]
    return copy.deepcopy(value)
