"""`invoke jobs`: the project's saved jobs (master's and the branch copies), each with its schedule, its
newest run's result and age, and its page.

Ours only: a job counts when its `bricktasks-root` tag names this project's workspace root (desired.py),
whatever its display name. Requests: one jobs/list (tasks and tags included) and one runs/list with
limit 1 per listed job of ours, in parallel.
"""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bricktasks.backends.base import Backend, Job, Run
from bricktasks.console.console import printable
from bricktasks.durations import format_duration
from bricktasks.errors import BackendError
from bricktasks.jobs.desired import TAG_BRANCH, TAG_JOB, TAG_ROOT, TAG_TARGET

__all__ = ["JobStatus", "NO_RUN", "NO_SCHEDULE", "project_jobs", "job_statuses", "format_jobs", "target_of"]

NO_RUN = "no run"
NO_SCHEDULE = "no schedule"
MASTER = "master"


@dataclass(frozen=True)
class JobStatus:
    job_id: int
    name: str
    target: str  # "master" or "branch <B>"
    branch: str | None
    file: str
    schedule: str  # "0 0 3 * * ? Europe/Amsterdam UNPAUSED" or NO_SCHEDULE
    last_result: str  # SUCCESS / FAILED / RUNNING ... or NO_RUN
    last_run_id: int | None
    last_age_s: float | None  # since the newest run started
    url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "name": self.name, "target": self.target, "branch": self.branch, "file": self.file,
            "schedule": self.schedule, "last_result": self.last_result, "last_run_id": self.last_run_id,
            "last_age_s": None if self.last_age_s is None else int(self.last_age_s), "url": self.url,
        }


def target_of(tags: Mapping[str, Any]) -> tuple[str, str | None]:
    """("master", None) or ("branch B", "B") from a job's ownership tags."""
    branch = tags.get(TAG_BRANCH)
    if tags.get(TAG_TARGET) == "branch" and branch is not None:
        return f"branch {branch}", str(branch)
    return MASTER, None


def project_jobs(backend: Backend, workspace_root: str, *, branch: str | None = None,
                 master_only: bool = False) -> list[Job]:
    """Our jobs (root tag), by id: every target's, or only `branch`'s copies, or only master's."""
    ours = []
    for job in backend.list_jobs():
        tags = dict(job.settings.get("tags") or {})
        if tags.get(TAG_ROOT) != workspace_root:
            continue
        _, of_branch = target_of(tags)
        if (branch is not None and of_branch != branch) or (master_only and of_branch is not None):
            continue
        ours.append(job)
    return sorted(ours, key=lambda job: job.job_id)


def _schedule(settings: Mapping[str, Any]) -> str:
    schedule = settings.get("schedule")
    if not isinstance(schedule, Mapping) or not schedule.get("quartz_cron_expression"):
        return NO_SCHEDULE
    parts = [schedule.get("quartz_cron_expression"), schedule.get("timezone_id") or "UTC", schedule.get("pause_status") or "UNPAUSED"]
    return " ".join(str(part) for part in parts)


def _newest_run(backend: Backend, job_id: int) -> Run | None:
    try:
        runs = backend.list_runs(job_id=job_id, limit=1)
    except BackendError:  # a job deleted since the list, or a refused read: listed without its run
        return None
    return runs[0] if runs else None


def _status(backend: Backend, job: Job, run: Run | None, now: datetime) -> JobStatus:
    tags = dict(job.settings.get("tags") or {})
    target, branch = target_of(tags)
    if run is None:
        result, age = NO_RUN, None
    else:
        result = (run.result_state or run.life_cycle_state) if run.is_terminal else run.life_cycle_state
        age = max(0.0, now.timestamp() - run.start_time / 1000) if run.start_time else None
    return JobStatus(
        job_id=job.job_id, name=job.name, target=target, branch=branch, file=str(tags.get(TAG_JOB) or ""),
        schedule=_schedule(job.settings), last_result=result, last_run_id=run.run_id if run else None,
        last_age_s=age, url=backend.job_page_url(job.job_id),
    )


def job_statuses(backend: Backend, jobs: list[Job], *, now: datetime, workers: int = 8) -> list[JobStatus]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda job: _newest_run(backend, job.job_id), jobs))
    return [_status(backend, job, run, now) for job, run in zip(jobs, runs, strict=True)]


def format_jobs(statuses: list[JobStatus]) -> list[str]:
    """Aligned lines, as `invoke builds` prints them: a header, then one line per job; every name escaped."""
    def last(status: JobStatus) -> str:
        if status.last_age_s is None:
            return status.last_result
        return f"{status.last_result} {format_duration(status.last_age_s)} ago"

    rows = [("JOB", "TARGET", "FILE", "SCHEDULE", "LAST RUN", "URL")] + [
        (printable(status.name), printable(status.target), printable(status.file), printable(status.schedule),
         printable(last(status)), printable(status.url or f"job {status.job_id}"))
        for status in statuses
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]
