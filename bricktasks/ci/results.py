"""Each planned task's report from the run as it ended: state, attempts, exit value, error, cells, duration.

The pipeline plans the tasks (`PlannedTask`: what ci asked to run) and, once the run has ended or
was cancelled, `task_reports` asks the backend for each task's output and detailed result. The
reports keep the planned order; each is the task's newest attempt, with the number of attempts it
had. A task the run never reached (cancelled before it started) is reported as CANCELED; a task
its upstream kept from running says which upstream task that was.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bricktasks.backends.base import Backend, Run, RunOutput, TaskRun
from bricktasks.errors import BackendError
from bricktasks.report.model import NOT_RUN_BY_UPSTREAM, SKIPPED_STATES, NotebookRunReport, not_run_reason
from bricktasks.runs.supervise import collect_outputs

__all__ = ["PlannedTask", "task_reports", "result_line"]


@dataclass(frozen=True)
class PlannedTask:
    """One task of the CI run as planned: its key, its notebook (relative to the source folder) and
    the notebook's absolute path in the build's folder, and the tasks it waits for."""

    task_key: str
    notebook: str
    notebook_path: str
    depends_on: tuple[str, ...] = ()


def _attempts(run: Run, key: str) -> int:
    """Attempts that ran: one entry per attempt in tasks[], or the newest attempt's number + 1 (after a
    repair tasks[] shows only the newest attempt)."""
    entries = [task for task in run.tasks if task.task_key == key]
    return max([len(entries)] + [task.attempt_number + 1 for task in entries]) if entries else 0


def _duration_s(task: TaskRun | None, state: str, detail: dict | None, elapsed_s: float) -> float:
    """The detailed result's, else the task's own times; a task that never ran took none. The run's
    elapsed time only for a backend that reports no task times."""
    if detail and detail.get("duration_s"):
        return float(detail["duration_s"])
    if task is None or state in SKIPPED_STATES:
        return 0.0
    if task.duration_ms:
        return task.duration_ms / 1000
    return 0.0 if task.start_time else float(elapsed_s)


def _report(backend: Backend, run: Run | None, planned: PlannedTask, task: TaskRun | None, output: RunOutput | None,
            elapsed_s: float) -> NotebookRunReport:
    detail = backend.task_result(task.run_id) if task else None
    export = None
    if task and detail is None:
        try:
            export = backend.export_run(task.run_id)
        except BackendError:
            export = None
    state = (task.result_state or task.life_cycle_state) if task else "CANCELED"
    return NotebookRunReport(
        name=planned.notebook,
        notebook_path=planned.notebook_path,
        run_id=run.run_id if run else None,
        task_run_id=task.run_id if task else None,
        result_state=state,
        state_message=(task.state_message if task else "") or "",
        duration_s=_duration_s(task, state, detail, elapsed_s),
        exit_value=output.result if output else None,
        error=(output.error if output else None) or (task.state_message if task and state != "SUCCESS" else None),
        error_trace=output.error_trace if output else None,
        run_page_url=run.run_page_url if run else None,
        result=detail,
        export_html=export,
        task_key=planned.task_key,
        depends_on=tuple(planned.depends_on or (task.depends_on if task else ())),
        run_if=task.run_if if task and task.depends_on else "",
        attempts=_attempts(run, planned.task_key) if run else 0,
        life_cycle_state=task.life_cycle_state if task else "",
        start_time=task.start_time if task else 0,
        end_time=task.end_time if task else 0,
    )


def task_reports(backend: Backend, run: Run | None, planned: Sequence[PlannedTask], elapsed_s: float) -> list[NotebookRunReport]:
    """One report per planned task, in the planned order, from each task's newest attempt."""
    latest: dict[str, TaskRun] = {task.task_key: task for task in run.latest_tasks()} if run else {}
    outputs = collect_outputs(backend, run) if run else {}
    reports = [_report(backend, run, task, latest.get(task.task_key), outputs.get(task.task_key), elapsed_s)
               for task in planned]
    # a task its upstream kept from running has no output of its own: its error is why it did not run
    return [replace(report, error=not_run_reason(report, reports)) if report.result_state in NOT_RUN_BY_UPSTREAM else report
            for report in reports]


def result_line(report: NotebookRunReport) -> str:
    """The terminal's line for one task: its state, attempts, exit value, and where it failed or why it did not run."""
    line = f"{report.key}: {report.result_state}"
    if report.attempts > 1:
        line += f" after {report.attempts} attempts"
    if report.exit_value is not None:
        line += f"; exit value: {report.exit_value}"
    if report.result_state in NOT_RUN_BY_UPSTREAM and report.error:
        line += f"; {report.error}"
    elif report.result_state != "SUCCESS" and report.error:
        where = f" in cell {report.failed_cell}" if report.failed_cell else ""
        line += f"; error{where}: {report.error}"
    return line
