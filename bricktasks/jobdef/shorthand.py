"""ci's shorthand as a job definition: each notebook one independent task on one run-level cluster.

What `cluster.json` + BRICKTASKS_CI_NOTEBOOKS meant before job definitions existed, and still mean in a
project without one: the same tasks (key = the notebook with "/" as "_"), no dependencies, every task
on the cluster.json compute with its libraries.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bricktasks.backends.base import Compute
from bricktasks.jobdef.definition import JobDefinition, TaskDefinition

__all__ = ["shorthand_job", "notebook_task_key"]


def notebook_task_key(notebook: str) -> str:
    """The task key the shorthand gives a notebook (a key allows no "/")."""
    return notebook.replace("/", "_")[:100]


def shorthand_job(notebooks: Sequence[str], *, compute: Compute | None, libraries: Sequence[dict[str, Any]],
                  source: str) -> JobDefinition:
    tasks = tuple(TaskDefinition(task_key=notebook_task_key(name), notebook=name) for name in notebooks)
    return JobDefinition(source=source, tasks=tasks, compute=compute, libraries=tuple(libraries))
