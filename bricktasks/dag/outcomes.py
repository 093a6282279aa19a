"""What a task's upstream results mean for it (`run_if`), and what the tasks' results mean for the run.

From the Jobs API's conditional-tasks rules (../shared/reference/databricks-api-2.md, 1.6):

| run_if               | the task runs when, once all its dependencies are done | if not, it ends |
|----------------------|-------------------------------------------------------|-----------------|
| ALL_SUCCESS (default)| every dependency succeeded                             | UPSTREAM_FAILED |
| AT_LEAST_ONE_SUCCESS | at least one succeeded                                 | UPSTREAM_FAILED |
| NONE_FAILED          | none failed (and at least one ran)                     | UPSTREAM_FAILED |
| ALL_DONE             | always                                                 |                 |
| AT_LEAST_ONE_FAILED  | at least one failed                                    | EXCLUDED        |
| ALL_FAILED           | every one failed                                       | EXCLUDED        |

EXCLUDED counts as a success; a task whose dependencies were all excluded is excluded whatever its
run_if. A cancelled dependency makes a task UPSTREAM_CANCELED unless its run_if handles failure
(ALL_DONE, AT_LEAST_ONE_FAILED, ALL_FAILED). A dependency that did not run because of its own
upstream (UPSTREAM_FAILED) counts as failed for its downstream.

The run's verdict is its leaf tasks' (those nothing depends on): SUCCESS when every task succeeded,
SUCCESS_WITH_FAILURES when a task failed but every leaf succeeded, FAILED when a leaf failed or did
not run because of a failure (the reference leaves that last case unconfirmed; its one real capture,
a failed run with skipped downstream tasks, reads FAILED, so that is the choice). A failed run ends
in life_cycle_state INTERNAL_ERROR, as on Databricks.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "RUN_IF_VALUES", "DEFAULT_RUN_IF", "SUCCEEDED", "FAILED", "CANCELLED", "RUN", "decide", "Verdict", "run_verdict",
    "TASK_FAILURE_MESSAGE", "NOT_RUN_STATES",
]

RUN_IF_VALUES = ("ALL_SUCCESS", "AT_LEAST_ONE_SUCCESS", "NONE_FAILED", "ALL_DONE", "AT_LEAST_ONE_FAILED", "ALL_FAILED")
DEFAULT_RUN_IF = "ALL_SUCCESS"
SUCCEEDED = frozenset({"SUCCESS", "SUCCESS_WITH_FAILURES", "EXCLUDED"})
FAILED = frozenset({"FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "MAXIMUM_CONCURRENT_RUNS_REACHED", "DISABLED"})
CANCELLED = frozenset({"CANCELED", "UPSTREAM_CANCELED"})
NOT_RUN_STATES = frozenset({"UPSTREAM_FAILED", "UPSTREAM_CANCELED", "EXCLUDED"})  # results of tasks that never started
RUN = "RUN"  # decide()'s answer when the task should start
HANDLES_FAILURE = frozenset({"ALL_DONE", "AT_LEAST_ONE_FAILED", "ALL_FAILED"})
# the task's own message on Databricks when its notebook raised (reference 1.6, measured on serverless and classic)
TASK_FAILURE_MESSAGE = "Workload failed, see run output for details"


def decide(run_if: str, upstream: Sequence[str]) -> str:
    """RUN, or the result the task ends with without running, given its dependencies' results
    (all terminal). A task with no dependencies always runs."""
    if not upstream:
        return RUN
    if all(result == "EXCLUDED" for result in upstream):
        return "EXCLUDED"
    succeeded = [result in SUCCEEDED for result in upstream]
    failed = [result in FAILED for result in upstream]
    if any(result in CANCELLED for result in upstream) and run_if not in HANDLES_FAILURE:
        return "UPSTREAM_CANCELED"
    if run_if == "ALL_SUCCESS":
        return RUN if all(succeeded) else "UPSTREAM_FAILED"
    if run_if == "AT_LEAST_ONE_SUCCESS":
        return RUN if any(succeeded) else "UPSTREAM_FAILED"
    if run_if == "NONE_FAILED":
        return RUN if not any(failed) else "UPSTREAM_FAILED"
    if run_if == "ALL_DONE":
        return RUN
    if run_if == "AT_LEAST_ONE_FAILED":
        return RUN if any(failed) else "EXCLUDED"
    if run_if == "ALL_FAILED":
        return RUN if all(failed) else "EXCLUDED"
    raise ValueError(f"unknown run_if {run_if!r}")


@dataclass(frozen=True)
class Verdict:
    """The run's final state, as the Jobs API reports it."""

    life_cycle_state: str
    result_state: str
    state_message: str


def run_verdict(
    results: Mapping[str, str], dependencies: Mapping[str, Sequence[str]], failure_messages: Mapping[str, str] | None = None
) -> Verdict:
    """The run's verdict from every task's result (task_key -> result_state, all terminal).
    `failure_messages` are the messages of tasks that failed without running their workload (a
    library that could not be installed): the run's message quotes the first failed task's."""
    needed = {dependency for upstream in dependencies.values() for dependency in upstream}
    leaf_results = [results[key] for key in results if key not in needed]
    if any(result in CANCELLED for result in results.values()) and not any(result in FAILED for result in leaf_results):
        return Verdict("TERMINATED", "CANCELED", "Run cancelled")
    if all(result in SUCCEEDED for result in leaf_results):
        if all(result in SUCCEEDED for result in results.values()):
            return Verdict("TERMINATED", "SUCCESS", "")
        return Verdict("TERMINATED", "SUCCESS_WITH_FAILURES", "Some tasks failed; every leaf task succeeded")
    first_failed = next(
        (key for key, result in results.items() if result in FAILED and result not in NOT_RUN_STATES),
        next(key for key, result in results.items() if result in FAILED),
    )
    timed_out = results[first_failed] == "TIMEDOUT"
    reason = "Timed out" if timed_out else (failure_messages or {}).get(first_failed, TASK_FAILURE_MESSAGE).rstrip(".")
    skipped = any(result in NOT_RUN_STATES for result in results.values())
    message = f"Task {first_failed} failed with message: {reason}." + (
        " This caused all downstream tasks to get skipped." if skipped else ""
    )
    return Verdict("INTERNAL_ERROR", "FAILED", message)
