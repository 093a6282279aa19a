"""What a report is made of: one `NotebookRunReport` per task of the CI run, the `BuildReport` around
them, and the rules every writer shares (a task's outcome for a CI system, why a task did not run).

A task that did not run because of its upstream (UPSTREAM_FAILED, UPSTREAM_CANCELED, EXCLUDED) is
"skipped", never a failure of its own: the red build comes from the task that broke, and the skipped
one says which that was ("not run: upstream task PrepareData failed").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bricktasks.report.quality import QualityComparison

__all__ = ["BuildReport", "NotebookRunReport", "SKIPPED_STATES", "NOT_RUN_BY_UPSTREAM", "outcome", "not_run_reason"]

# Result states that mean "did not run" rather than "broke"; every other non-SUCCESS is an error.
SKIPPED_STATES = frozenset({"SKIPPED", "EXCLUDED", "DISABLED", "UPSTREAM_FAILED", "UPSTREAM_CANCELED"})
NOT_RUN_BY_UPSTREAM = frozenset({"UPSTREAM_FAILED", "UPSTREAM_CANCELED", "EXCLUDED"})
# EXCLUDED counts as a success in the Jobs API (a failure handler that had nothing to handle)
_GOOD_STATES = frozenset({"SUCCESS", "EXCLUDED"})
_UPSTREAM_WORDS = {
    "FAILED": "failed", "TIMEDOUT": "timed out", "CANCELED": "was cancelled", "INTERNAL_ERROR": "failed",
    "UPSTREAM_FAILED": "was not run", "UPSTREAM_CANCELED": "was not run", "EXCLUDED": "was excluded",
    "SUCCESS": "succeeded",
}


@dataclass(frozen=True)
class NotebookRunReport:
    """One task of a CI run (its newest attempt), remote (export_html) or local (result with cells).

    `task_key` is empty for a report made before runs had several tasks: `key` is then the name.
    `start_time`/`end_time` are epoch milliseconds (0 when the task never started); `attempts`
    counts the attempts that ran (retries included)."""

    name: str
    notebook_path: str
    run_id: int | None
    task_run_id: int | None
    result_state: str
    state_message: str
    duration_s: float
    exit_value: str | None
    error: str | None
    error_trace: str | None
    run_page_url: str | None
    result: dict | None = None
    export_html: str | None = None
    task_key: str = ""
    depends_on: tuple[str, ...] = ()
    run_if: str = ""
    attempts: int = 1
    life_cycle_state: str = ""
    start_time: int = 0
    end_time: int = 0

    @property
    def key(self) -> str:
        return self.task_key or self.name

    @property
    def failed_cell(self) -> int | None:
        return (self.result or {}).get("failed_cell")


@dataclass(frozen=True)
class BuildReport:
    """A CI build and the tasks its run had."""

    build_id: str
    branch: str
    commit: str
    ci_folder: str
    backend: str
    started_at: str
    notebooks: list[NotebookRunReport]
    quality: QualityComparison | None = None  # this build's metrics against master's (report/quality)

    @property
    def succeeded(self) -> bool:
        """True only when there was something to run, something ran, and nothing failed (an EXCLUDED
        failure handler is fine: the Jobs API counts it as a success)."""
        states = [nb.result_state for nb in self.notebooks]
        return bool(states) and all(state in _GOOD_STATES for state in states) and "SUCCESS" in states

    @property
    def overall_state(self) -> str:
        """What the build shows as its state (report.html's badge, summary.md's heading): SUCCESS,
        or the state of the first task that broke (not one skipped because of it), else the first
        state that is not SUCCESS, NOTHING RUN for a build without tasks."""
        if self.succeeded:
            return "SUCCESS"
        broken = [nb.result_state for nb in self.notebooks if outcome(nb.result_state) in ("failure", "error")]
        states = [nb.result_state or "UNKNOWN" for nb in self.notebooks]
        return broken[0] if broken else next((state for state in states if state != "SUCCESS"), "NOTHING RUN")

    @property
    def name(self) -> str:
        return f"{self.build_id}-{self.branch}"


def outcome(state: str) -> str:
    """A result state as JUnit sees it: passed, failure, error or skipped."""
    if state == "SUCCESS":
        return "passed"
    if state == "FAILED":
        return "failure"
    return "skipped" if state in SKIPPED_STATES else "error"


def not_run_reason(task: NotebookRunReport, tasks: Sequence[NotebookRunReport]) -> str | None:
    """Why a task did not run, naming the upstream tasks that decided it; None for a task that ran."""
    if task.result_state not in NOT_RUN_BY_UPSTREAM:
        return None
    states = {other.key: other.result_state for other in tasks}
    upstream = [key for key in task.depends_on if key in states]
    if task.result_state == "EXCLUDED":
        seen = ", ".join(f"{key} {_UPSTREAM_WORDS.get(states[key], states[key])}" for key in upstream)
        condition = f"its run_if {task.run_if} was not met" if task.run_if else "its run_if condition was not met"
        return f"not run: {condition}" + (f" (upstream: {seen})" if seen else "")
    culprits = [key for key in upstream if states[key] not in _GOOD_STATES]
    if not culprits:
        return f"not run: {task.state_message or task.result_state}"
    words = [f"{key} {_UPSTREAM_WORDS.get(states[key], states[key])}" for key in culprits]
    return f"not run: upstream task{'s' if len(words) > 1 else ''} {', '.join(words)}"
