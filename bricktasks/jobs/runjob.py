"""`invoke run-job NAME`: start one of the project's saved jobs now (jobs/run-now), wait, report like `ci`.

NAME is the definition's name ("Forecast training") or its file ("training" / "training.json"); the job is
found among OURS by tag (listing.project_jobs: master's, or one branch's copies), never by display name
alone, so a job of that name someone else made is never started. `--param KEY=VALUE` become
job_parameters, each checked against the job's declared `parameters` before run_now. One idempotency
token per invocation: a retried run-now finds the same run, a second invocation starts a new one.

The wait, timeout and SIGINT/SIGTERM cancel are runs/supervise's; each task's report is ci/results'; the
JUnit, HTML, summary.json and summary.md are report/'s, written into ci-results/ as `ci` writes them. The report's
build fields name the job (build id) and its target (branch: master or the branch).
"""
from __future__ import annotations

import difflib
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, NoReturn

from bricktasks.backends.base import Backend, Job, Run
from bricktasks.ci.results import PlannedTask, result_line, task_reports
from bricktasks.ci.summary import CiOutcome, NotebookOutcome, ReportPaths
from bricktasks.console.console import Console, printable
from bricktasks.errors import UserInputError
from bricktasks.jobs.desired import TAG_JOB, copy_name
from bricktasks.jobs.listing import project_jobs, target_of
from bricktasks.project import Project
from bricktasks.report.ci_native import write_ci_summary
from bricktasks.report.reports import BuildReport, write_reports
from bricktasks.runs.supervise import Interrupted, cancel_briefly, submit_answered, supervise_run

__all__ = ["JobRunProgress", "parse_params", "find_job", "check_params", "planned_tasks", "run_job", "SKIPPED"]

SKIPPED = "SKIPPED"  # life cycle state of a run beyond max_concurrent_runs with queueing off


def parse_params(params: Sequence[str]) -> dict[str, str]:
    """`--param KEY=VALUE` flags as a dict; checked before any request (a value may contain "=")."""
    parsed: dict[str, str] = {}
    for given in params:
        key, equals, value = given.partition("=")
        if not equals or not key.strip():
            raise UserInputError(f"--param {printable(given)} is not KEY=VALUE", "write it as --param run_date=2024-01-31")
        if key in parsed:
            raise UserInputError(f"--param {printable(key)} is given twice", "give each parameter once")
        parsed[key] = value
    return parsed


def _names(job: Job, branch: str | None) -> set[str]:
    """What NAME may be for this job: its file with or without .json, its definition's name."""
    file = str(dict(job.settings.get("tags") or {}).get(TAG_JOB) or "")
    names = {file, file.removesuffix(".json"), job.name}
    if branch is not None:  # a copy is named "[B] name": its definition's name is the part after the prefix
        prefix = copy_name("", branch)
        names.add(job.name.removeprefix(prefix))
    return {name for name in names if name}


def find_job(backend: Backend, workspace_root: str, name: str, *, branch: str | None) -> Job:
    """Our job NAME names (master's, or `branch`'s copy); UserInputError with the closest names if none.
    A name is matched exactly first, then ignoring case."""
    jobs = project_jobs(backend, workspace_root, branch=branch, master_only=branch is None)
    where = f"branch {branch}'s copies" if branch else "master's jobs"
    if not jobs:
        how = f"invoke checkout {branch} --jobs makes them" if branch else "invoke deploy makes them from jobs/production/"
        raise UserInputError(f"this project has no saved jobs among {where}", how)
    for same in (lambda known: known == name, lambda known: known.casefold() == name.casefold()):
        found = [job for job in jobs if any(same(known) for known in _names(job, branch))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(str(job.job_id) for job in found)
            raise UserInputError(f"{printable(name)} names {len(found)} of {where} (jobs {ids})", "name it by its file, e.g. training.json")
    valid = sorted({known for job in jobs for known in _names(job, branch)})
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.4) or valid[:5]
    raise UserInputError(
        f"no job {printable(name)} among {where}", "did you mean: " + ", ".join(printable(option) for option in close)
    )


def check_params(job: Job, params: Mapping[str, str]) -> dict[str, str]:
    """`params` if the job declares every one of them (its `parameters`); else UserInputError naming the valid ones."""
    declared = [str(parameter.get("name")) for parameter in job.settings.get("parameters") or [] if isinstance(parameter, Mapping)]
    unknown = [key for key in params if key not in declared]
    if unknown:
        valid = ", ".join(declared) if declared else "none: the job declares no parameters"
        raise UserInputError(
            f"job {printable(job.name)} has no parameter {', '.join(printable(key) for key in unknown)}",
            f"its parameters are: {printable(valid)}",
        )
    return dict(params)


def planned_tasks(job: Job, folder: str) -> tuple[PlannedTask, ...]:
    """The job's tasks as the reports plan them: key, notebook (relative to the target's folder), path, dependencies."""
    prefix = folder.rstrip("/") + "/"
    planned = []
    for task in job.settings.get("tasks") or []:
        path = str((task.get("notebook_task") or {}).get("notebook_path") or "")
        notebook = path[len(prefix):] if path.startswith(prefix) else (path.rsplit("/", 1)[-1] or str(task.get("task_key")))
        depends = tuple(str(dependency.get("task_key")) for dependency in task.get("depends_on") or [])
        planned.append(PlannedTask(str(task.get("task_key")), notebook, path, depends))
    return tuple(planned)


class JobRunProgress:
    """The outcome so far (ci's CiOutcome: run id, result, tasks, reports), read by the task's `finally`
    however run_job ended."""

    def __init__(self, job: Job, folder: str) -> None:
        target, _ = target_of(dict(job.settings.get("tags") or {}))
        self.outcome = CiOutcome(build_id=job.name, branch=target, commit=None, ci_folder=folder)

    def record(self, **fields: Any) -> CiOutcome:
        self.outcome = replace(self.outcome, **fields)
        return self.outcome


def run_job(project: Project, backend: Backend, job: Job, *, folder: str, job_parameters: Mapping[str, str],
            timeout_s: float, wait: bool, console: Console, secrets: list[str], progress: JobRunProgress) -> int:
    """Start the job, and (with `wait`) supervise the run and write the reports; the exit code as ci's."""
    token = hashlib.sha256(f"run-job:{job.job_id}:{uuid.uuid4()}".encode()).hexdigest()[:64]
    tasks = planned_tasks(job, folder)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        run_id = submit_answered(lambda: backend.run_now(job.job_id, job_parameters=dict(job_parameters) or None,
                                                        idempotency_token=token))
    except Interrupted as interrupted:
        if interrupted.run_id is None:
            interrupted.detail = interrupted.detail or "no run was started"
            raise
        progress.record(run_id=interrupted.run_id)
        _cancel_on_the_way_out(project, backend, interrupted, interrupted.run_id, tasks, started, console, secrets, progress)
    progress.record(run_id=run_id)
    try:
        run = backend.get_run(run_id)  # its page, and a run skipped at once (max_concurrent_runs) is told now
        progress.record(run_page_url=run.run_page_url, life_cycle_state=run.life_cycle_state)
        console.info(f"started run {run_id} of {printable(job.name)} (job {job.job_id})")
        if not wait:
            console.result(run.run_page_url or f"run {run_id}")
            progress.record(result=run.result_state or run.life_cycle_state)
            return 0
    except Interrupted as interrupted:  # between run-now's answer and the wait: nobody would know of the run
        _cancel_on_the_way_out(project, backend, interrupted, run_id, tasks, started, console, secrets, progress)

    outcome = supervise_run(backend, run_id, timeout_s=timeout_s, on_state=console.run_status(run_id), on_cancel=console.warn)
    try:
        _finish(project, backend, outcome.run, tasks, outcome.elapsed_s, started, console, secrets, progress)
    except Interrupted as interrupted:  # while the results were fetched: the run had ended already
        if outcome.interrupted:
            raise outcome.interrupted from None
        interrupted.detail = f"run {run_id} had ended; the reports may be incomplete"
        raise
    if outcome.interrupted:
        raise outcome.interrupted
    return outcome.exit_code


def _cancel_on_the_way_out(project, backend, interrupted: Interrupted, run_id: int, tasks, started, console, secrets,
                           progress: JobRunProgress) -> NoReturn:
    console.warn(f"{interrupted} received; cancelling run {run_id}")
    cancelled = cancel_briefly(backend, run_id)
    interrupted.detail = cancelled.describe(run_id)
    _finish(project, backend, cancelled.run, tasks, 0.0, started, console, secrets, progress)
    raise interrupted


def _finish(project: Project, backend: Backend, run: Run | None, tasks: Sequence[PlannedTask], elapsed: float,
            started: str, console: Console, secrets: list[str], progress: JobRunProgress) -> None:
    """Each task's result line, the reports in ci-results/, the result line, and the outcome recorded."""
    reports = task_reports(backend, run, tasks, elapsed)
    for task_report in reports:
        console.result(result_line(task_report))
    outcome = progress.outcome
    report = BuildReport(build_id=outcome.build_id, branch=outcome.branch, commit="", ci_folder=outcome.ci_folder,
                         backend=backend.name, started_at=started, notebooks=reports)
    junit, html, summary = write_reports(report, project.results_dir, secrets=secrets)
    markdown = write_ci_summary(report, project.results_dir, secrets=secrets, environ=project.environ, console=console,
                                run_url=run.run_page_url if run else outcome.run_page_url)
    console.info(f"reports: {junit} {html} {markdown}")
    result = (run.result_state or run.life_cycle_state) if run else "CANCELED"
    progress.record(
        run_page_url=run.run_page_url if run else outcome.run_page_url, life_cycle_state=run.life_cycle_state if run else None,
        result=result, notebooks=tuple(NotebookOutcome.of(nb) for nb in reports), reports=ReportPaths(junit, html, summary, markdown),
    )
    name = f"{printable(outcome.build_id)} ({printable(outcome.branch)})"
    if run is not None and run.life_cycle_state == SKIPPED:
        console.result(f"run {run.run_id} of {name} was skipped: {printable(run.state_message or 'max_concurrent_runs reached')}"
                       "; wait for the active run to end, or raise max_concurrent_runs")
    elif run is not None:
        console.result(f"run {run.run_id} of {name}: {result}")
