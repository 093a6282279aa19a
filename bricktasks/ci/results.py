"""Each planned task's report from the run as it ended: state, exit value, error, cells, duration.

The pipeline plans the tasks (`PlannedTask`: what ci asked to run) and, once the run has ended or
was cancelled, `task_reports` asks the backend for each task's output and detailed result. A task
the run never reached (cancelled before it started) is reported as CANCELED.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bricktasks.backends.base import Backend, Run, TaskRun
from bricktasks.errors import BackendError
from bricktasks.report.reports import NotebookRunReport
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


def task_reports(backend: Backend, run: Run | None, planned: Sequence[PlannedTask], elapsed_s: float) -> list[NotebookRunReport]:
    """One report per planned task, from each task's newest attempt."""
    latest: dict[str, TaskRun] = {task.task_key: task for task in run.latest_tasks()} if run else {}
    outputs = collect_outputs(backend, run) if run else {}
    reports = []
    for planned_task in planned:
        task = latest.get(planned_task.task_key)
        output = outputs.get(planned_task.task_key)
        detail = backend.task_result(task.run_id) if task else None
        export = None
        if task and detail is None:
            try:
                export = backend.export_run(task.run_id)
            except BackendError:
                export = None
        state = (task.result_state or task.life_cycle_state) if task else "CANCELED"
        reports.append(
            NotebookRunReport(
                name=planned_task.notebook,
                notebook_path=planned_task.notebook_path,
                run_id=run.run_id if run else None,
                task_run_id=task.run_id if task else None,
                result_state=state,
                state_message=(task.state_message if task else "") or "",
                duration_s=float((detail or {}).get("duration_s") or elapsed_s),
                exit_value=output.result if output else None,
                error=(output.error if output else None) or (task.state_message if task and state != "SUCCESS" else None),
                error_trace=output.error_trace if output else None,
                run_page_url=run.run_page_url if run else None,
                result=detail,
                export_html=export,
            )
        )
    return reports


def result_line(report: NotebookRunReport) -> str:
    """The terminal's line for one task: its state, exit value, and where it failed."""
    line = f"{report.name}: {report.result_state}"
    if report.exit_value is not None:
        line += f"; exit value: {report.exit_value}"
    if report.result_state != "SUCCESS" and report.error:
        where = f" in cell {report.failed_cell}" if report.failed_cell else ""
        line += f"; error{where}: {report.error}"
    return line
