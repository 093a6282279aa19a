"""What the local run store accepts: a run's task graph at submit, and which tasks a repair reruns.

The rules are the Jobs API's (reference 1.8): a repair reruns tasks of an ended run within the same
run, named by `rerun_tasks` or chosen by `rerun_all_failed_tasks`, optionally with everything
downstream of them; from the second repair on, `latest_repair_id` must name the newest repair, so
two clients repairing at once cannot both win. The API's own messages for these errors are
unconfirmed; ours say what is wrong and what to do.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bricktasks.backends.base import Run, RunSpec
from bricktasks.backends.library_rules import check_environments, check_libraries
from bricktasks.dag.graph import GraphError, check_graph, downstream_of
from bricktasks.dag.outcomes import RUN_IF_VALUES, SUCCEEDED
from bricktasks.errors import InvalidRequest

__all__ = ["check_spec", "RepairRequest", "tasks_to_rerun"]


def check_spec(spec: RunSpec) -> None:
    """InvalidRequest unless the tasks form a valid graph with known run_if values and well-formed
    libraries (`library_rules`)."""
    try:
        check_graph([(task.task_key, task.depends_on) for task in spec.tasks])
    except GraphError as error:
        raise InvalidRequest(str(error), "fix the run's tasks[]") from None
    for task in spec.tasks:
        if task.run_if not in RUN_IF_VALUES:
            raise InvalidRequest(f"task {task.task_key!r} has an unknown run_if {task.run_if!r}", "use one of " + ", ".join(RUN_IF_VALUES))
        check_libraries(task.task_key, spec.task_libraries(task))
    check_environments(spec.environments)


@dataclass(frozen=True)
class RepairRequest:
    """The body of runs/repair, as Backend.repair_run takes it."""

    rerun_tasks: tuple[str, ...] = ()
    rerun_all_failed_tasks: bool = False
    rerun_dependent_tasks: bool = False
    latest_repair_id: int | None = None


def tasks_to_rerun(run_id: int, run: Run, spec: Mapping[str, Any], request: RepairRequest) -> list[str]:
    """The keys a repair reruns, in the run's task order; InvalidRequest when it cannot be repaired so.
    `run` carries the newest attempt of each task and the repair history; `spec` is the submitted body."""
    if not run.is_terminal:
        raise InvalidRequest(f"Run {run_id} is still active; repair it once it has ended", "wait for the run, or cancel it first")
    _check_latest_repair_id(run_id, run, request.latest_repair_id)
    if bool(request.rerun_tasks) == request.rerun_all_failed_tasks:
        raise InvalidRequest(
            "a repair takes exactly one of rerun_tasks and rerun_all_failed_tasks", "name the tasks, or ask for all failed ones"
        )
    dependencies = {task["task_key"]: [d["task_key"] for d in task.get("depends_on", [])] for task in spec["tasks"]}
    if request.rerun_tasks:
        unknown = [key for key in request.rerun_tasks if key not in dependencies]
        if unknown:
            raise InvalidRequest(f"Run {run_id} has no task {unknown[0]!r}", "known tasks: " + ", ".join(dependencies))
        chosen = set(request.rerun_tasks)
    else:
        chosen = {task.task_key for task in run.tasks if task.result_state not in SUCCEEDED}
        if not chosen:
            raise InvalidRequest(f"Run {run_id} has no failed tasks to rerun", "name the tasks to rerun with rerun_tasks")
    if request.rerun_dependent_tasks:
        chosen |= downstream_of(dependencies, chosen)
    return [key for key in dependencies if key in chosen]


def _check_latest_repair_id(run_id: int, run: Run, latest_repair_id: int | None) -> None:
    newest = run.latest_repair_id
    if newest is None and latest_repair_id is not None:
        raise InvalidRequest(
            f"Run {run_id} has not been repaired yet; latest_repair_id {latest_repair_id} is unknown", "leave latest_repair_id out"
        )
    if newest is not None and latest_repair_id != newest:
        got = "" if latest_repair_id is None else f"; got {latest_repair_id}"
        raise InvalidRequest(
            f"latest_repair_id must be {newest}, the newest repair of run {run_id}{got}",
            "read the run's repair_history and pass its newest repair id",
        )

