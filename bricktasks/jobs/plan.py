"""The deploy plan: which of the project's jobs to create, update (with the changed fields, old -> new),
leave unchanged, or report as no longer in git; and which were edited in the UI since the last deploy.

Only a job tagged with the project's root (desired.TAG_ROOT) is ever ours: a job of the same name
without it is reported as "not ours" and left alone. Settings are compared as the server echoes them:
both sides get the server's defaults filled in (reference 1.3/1.4: `max_concurrent_runs: 1`,
`timeout_seconds: 0`, `email_notifications: {}`, a task's `run_if: ALL_SUCCESS`, ...), so an echoed
default is never a "change", and an unchanged job costs no write. Drift: each deploy writes a hash of
the settings it sent into TAG_HASH; an existing job whose settings no longer hash to it was edited since.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bricktasks.console.console import printable
from bricktasks.jobs.desired import TAG_BRANCH, TAG_HASH, TAG_JOB, TAG_ROOT, TAG_TARGET

__all__ = ["Change", "PlanEntry", "JobPlan", "MISSING", "plan_jobs", "format_plan", "settings_hash", "comparable",
           "with_hash"]

CREATE, UPDATE, UNCHANGED, NOT_IN_GIT, REMOVE, NOT_OURS = "create", "update", "unchanged", "not-in-git", "remove", "not-ours"
JOB_DEFAULTS: dict[str, Any] = {"email_notifications": {}, "webhook_notifications": {}, "timeout_seconds": 0,
                                "max_concurrent_runs": 1, "format": "MULTI_TASK", "queue": {"enabled": True}}
TASK_DEFAULTS: dict[str, Any] = {"run_if": "ALL_SUCCESS", "timeout_seconds": 0, "email_notifications": {}}
# cluster fields the server fills on read (reference 1.9 "Server-filled on read"): not ours to compare
SERVER_FILLED_CLUSTER = ("data_security_mode", "enable_elastic_disk", "aws_attributes", "azure_attributes",
                         "gcp_attributes")
# lists whose items have a key of their own: compared by it, so the server's order does not matter
KEYED_LISTS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "environments": "environment_key",
               "parameters": "name"}


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    path: str  # dotted, keyed lists by key: "schedule.quartz_cron_expression", "tasks[Evaluate].timeout_seconds"
    old: Any
    new: Any


@dataclass(frozen=True)
class PlanEntry:
    action: str  # create | update | unchanged | not-in-git | remove | not-ours
    name: str
    file: str | None = None  # the definition's file (for not-in-git: the file its tag names)
    job_id: int | None = None
    changes: tuple[Change, ...] = ()
    drift: bool = False  # edited (in the UI) since our last deploy
    settings: dict[str, Any] | None = None  # create/update: the settings to send, TAG_HASH included


@dataclass(frozen=True)
class JobPlan:
    entries: tuple[PlanEntry, ...] = field(default_factory=tuple)

    def of(self, action: str) -> list[PlanEntry]:
        return [entry for entry in self.entries if entry.action == action]

    @property
    def writes(self) -> int:
        """Write requests the plan needs: one create/reset/delete per entry that changes something."""
        return sum(entry.action in (CREATE, UPDATE, REMOVE) for entry in self.entries)


# ---- comparing settings ---------------------------------------------------------------------------


def comparable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` as compared and hashed: server defaults filled, server-filled cluster fields and our
    hash tag dropped, keyed lists as maps by key, a task's depends_on sorted."""
    view = {**JOB_DEFAULTS, **settings}
    view["tags"] = {key: value for key, value in dict(settings.get("tags", {})).items() if key != TAG_HASH}
    tasks = []
    for task in settings.get("tasks", []):
        task = {**TASK_DEFAULTS, **task}
        if "notebook_task" in task:
            task["notebook_task"] = {"source": "WORKSPACE", **task["notebook_task"]}
        if "depends_on" in task:
            task["depends_on"] = sorted(task["depends_on"], key=lambda dependency: str(dependency.get("task_key")))
        if "new_cluster" in task:
            task["new_cluster"] = _cluster(task["new_cluster"])
        tasks.append(task)
    view["tasks"] = tasks
    if "job_clusters" in settings:
        view["job_clusters"] = [{**cluster, "new_cluster": _cluster(cluster.get("new_cluster", {}))}
                                for cluster in settings["job_clusters"]]
    for name, key in KEYED_LISTS.items():
        if isinstance(view.get(name), list):
            view[name] = {str(item.get(key)): item for item in view[name] if isinstance(item, dict)}
    return view


def _cluster(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if key not in SERVER_FILLED_CLUSTER}


def settings_hash(settings: Mapping[str, Any]) -> str:
    text = json.dumps(comparable(settings), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_hash(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings to send: TAG_HASH records what they hash to, for the next plan's drift check."""
    return {**settings, "tags": {**settings.get("tags", {}), TAG_HASH: settings_hash(settings)}}


def _diff(old: Any, new: Any, path: str = "") -> list[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            # comparable() made the top-level keyed lists maps: their items are named by key, as in the file
            child = f"{path}[{key}]" if path in KEYED_LISTS else (f"{path}.{key}" if path else str(key))
            changes += _diff(old.get(key, MISSING), new.get(key, MISSING), child)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [change for number, (a, b) in enumerate(zip(old, new, strict=True)) for change in _diff(a, b, f"{path}[{number}]")]
    return [] if old == new else [Change(path, old, new)]


def field_changes(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[Change]:
    return _diff(comparable(existing), comparable(desired))


# ---- the plan -----------------------------------------------------------------------------------


def plan_jobs(desired: Sequence[tuple[str, Mapping[str, Any]]], existing: Sequence[tuple[int, Mapping[str, Any]]], *,
              project_root_tag: str, branch: str | None = None, remove: bool = False) -> JobPlan:
    """Plan bringing the target's jobs (master's, or `branch`'s copies) to `desired` [(file, settings from
    desired_settings)], given the workspace's `existing` [(job_id, settings as jobs/get returns them)].
    A job of ours (root tag, same target) whose file is not desired is "not-in-git", or "remove" with `remove`."""
    target = {TAG_TARGET: "master" if branch is None else "branch"}
    if branch is not None:
        target[TAG_BRANCH] = branch
    ours: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    foreign: list[tuple[int, Mapping[str, Any]]] = []
    for job_id, settings in sorted(existing, key=lambda item: item[0]):
        tags = dict(settings.get("tags") or {})
        if tags.get(TAG_ROOT) != project_root_tag:
            foreign.append((job_id, settings))
        elif all(tags.get(key) == value for key, value in target.items()) and (branch is not None or TAG_BRANCH not in tags):
            ours.setdefault(str(tags.get(TAG_JOB)), []).append((job_id, settings))
    entries: list[PlanEntry] = []
    desired_names = {str(settings.get("name")) for _, settings in desired}
    for file, settings in desired:
        matches = ours.pop(file, [])
        entries.append(_entry(file, settings, matches[0] if matches else None))
        entries += [_gone(job_id, old, remove) for job_id, old in matches[1:]]  # a second copy: not ours to keep
    for _file, jobs in sorted(ours.items()):
        entries += [_gone(job_id, settings, remove) for job_id, settings in jobs]
    entries += [PlanEntry(NOT_OURS, name=str(settings.get("name")), job_id=job_id)
                for job_id, settings in foreign if str(settings.get("name")) in desired_names]
    return JobPlan(tuple(entries))


def _entry(file: str, settings: Mapping[str, Any], existing: tuple[int, Mapping[str, Any]] | None) -> PlanEntry:
    name, send = str(settings.get("name")), with_hash(settings)
    if existing is None:
        return PlanEntry(CREATE, name=name, file=file, settings=send)
    job_id, current = existing
    recorded = dict(current.get("tags") or {}).get(TAG_HASH)
    drift = recorded is not None and recorded != settings_hash(current)
    changes = field_changes(current, settings)
    if not changes and recorded != send["tags"][TAG_HASH]:
        # same settings, but the hash tag is missing (an adopted job) or stale: one write records it
        changes = [Change(f"tags.{TAG_HASH}", recorded if recorded is not None else MISSING, send["tags"][TAG_HASH])]
    if not changes:
        return PlanEntry(UNCHANGED, name=name, file=file, job_id=job_id, drift=drift)
    return PlanEntry(UPDATE, name=name, file=file, job_id=job_id, changes=tuple(changes), drift=drift, settings=send)


def _gone(job_id: int, settings: Mapping[str, Any], remove: bool) -> PlanEntry:
    file = dict(settings.get("tags") or {}).get(TAG_JOB)
    return PlanEntry(REMOVE if remove else NOT_IN_GIT, name=str(settings.get("name")), file=file, job_id=job_id)


# ---- the terminal --------------------------------------------------------------------------------


def format_plan(plan: JobPlan) -> list[str]:
    """One line per job, an indented `field: old -> new` per changed field; every name escaped."""
    lines: list[str] = []
    for entry in plan.entries:
        job = f"{printable(entry.name)} ({printable(entry.file)}" + (f", job {entry.job_id})" if entry.job_id else ")")
        if entry.action == CREATE:
            lines.append(f"create     {job}")
        elif entry.action == UPDATE:
            lines.append(f"update     {job}: {len(entry.changes)} field(s)")
            lines += [f"    {printable(change.path)}: {_value(change.old)} -> {_value(change.new)}" for change in entry.changes]
        elif entry.action == UNCHANGED:
            lines.append(f"unchanged  {job}")
        elif entry.action == NOT_IN_GIT:
            lines.append(f"not in git {job}: its definition is gone; kept (deploy --remove-jobs deletes it)")
        elif entry.action == REMOVE:
            lines.append(f"remove     {job}: its definition is gone")
        elif entry.action == NOT_OURS:
            lines.append(f"not ours   {printable(entry.name)} (job {entry.job_id}): same name, no {TAG_ROOT} tag of "
                         f"this project; left alone")
        if entry.drift:
            # a UI edit that git has since caught up with leaves only our hash tag to write: nothing is overwritten
            overwrites = any(change.path != f"tags.{TAG_HASH}" for change in entry.changes)
            lines.append(f"drift      {printable(entry.name)} (job {entry.job_id}): edited in the UI since the last "
                         f"deploy; {'deploy overwrites it' if overwrites else 'its settings match git again'}")
    return lines


def _value(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = json.dumps(value, sort_keys=True, default=str)  # json escapes every control character
    return printable(text if len(text) <= 120 else text[:117] + "...")
