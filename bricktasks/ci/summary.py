"""What `invoke ci` ended with (`CiOutcome`) and the `--json` fields made from it.

`run_ci` fills a `CiProgress` as it learns things (the run id once the submit is answered, each
task's result and the report paths once the reports are written), so the task can build its
`--json` fields from what is known however run_ci ended: returned, failed, timed out or
interrupted by a signal. Nothing is read back from the workspace or the results folder.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bricktasks.buildinfo import BuildInfo
from bricktasks.report.reports import NotebookRunReport

__all__ = ["CiOutcome", "CiProgress", "NotebookOutcome", "ReportPaths"]


@dataclass(frozen=True)
class NotebookOutcome:
    """One task of the CI run: its key and notebook, state, attempts, dependencies, duration, exit
    value, and where it failed (or why it did not run)."""

    name: str
    result_state: str
    exit_value: str | None
    failed_cell: int | None
    error: str | None
    task_run_id: int | None
    task_key: str = ""
    depends_on: tuple[str, ...] = ()
    attempts: int = 1
    duration_s: float = 0.0

    @classmethod
    def of(cls, report: NotebookRunReport) -> NotebookOutcome:
        return cls(report.name, report.result_state, report.exit_value, report.failed_cell, report.error, report.task_run_id,
                   task_key=report.key, depends_on=report.depends_on, attempts=report.attempts,
                   duration_s=round(report.duration_s, 3))

    def json_fields(self) -> dict[str, Any]:
        return {
            "task_key": self.task_key or self.name, "name": self.name, "result_state": self.result_state,
            "attempts": self.attempts, "depends_on": list(self.depends_on), "duration_s": self.duration_s,
            "exit_value": self.exit_value, "failed_cell": self.failed_cell, "error": self.error, "task_run_id": self.task_run_id,
        }


@dataclass(frozen=True)
class ReportPaths:
    """The reports of one build in the results folder."""

    junit: Path
    html: Path
    summary: Path
    markdown: Path | None = None  # summary.md, the build as Markdown (report/markdown_summary)

    def json_fields(self) -> dict[str, str]:
        fields = {"junit": str(self.junit), "html": str(self.html), "summary": str(self.summary)}
        if self.markdown is not None:
            fields["markdown"] = str(self.markdown)
        return fields


@dataclass(frozen=True)
class CiOutcome:
    """A CI build as far as `invoke ci` got: which build, which run, how it ended, what it wrote.

    `run_id` is None until a run was submitted; `result` until the run's end was recorded (the
    run's result state, CANCELED when it was cancelled before it reported one); `notebooks`,
    `run_page_url` and `reports` until the reports were written; `exit_code` when run_ci ended by
    an exception the task layer turns into one (an error), 130/143 after a signal.
    """

    build_id: str
    branch: str
    commit: str | None
    ci_folder: str
    run_id: int | None = None
    run_page_url: str | None = None
    life_cycle_state: str | None = None
    result: str | None = None
    notebooks: tuple[NotebookOutcome, ...] = ()
    reports: ReportPaths | None = None
    exit_code: int | None = None

    def json_fields(self) -> dict[str, Any]:
        """The run fields of `invoke ci --json` (the build's own are recorded before the build starts)."""
        fields: dict[str, Any] = {"run_id": self.run_id, "result": self.result}
        if self.reports is not None:  # the notebooks' results are told once they are in the reports
            fields["run_page_url"] = self.run_page_url
            fields["notebooks"] = [notebook.json_fields() for notebook in self.notebooks]
            fields["reports"] = self.reports.json_fields()
        return fields


class CiProgress:
    """The outcome of the build under way, replaced field by field as run_ci learns them."""

    def __init__(self, build: BuildInfo, ci_folder: str) -> None:
        self.outcome = CiOutcome(build_id=build.build_id, branch=build.branch, commit=build.commit, ci_folder=ci_folder)

    def record(self, **fields: Any) -> CiOutcome:
        self.outcome = replace(self.outcome, **fields)
        return self.outcome
