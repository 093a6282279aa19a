"""What belongs to the build, filled into a job definition: the RunSpec ci submits.

The definition names notebooks relative to the source folder and compute per task; the build adds
- each notebook's absolute path in the build's folder (CI/<build>-<branch>);
- `build` and `branch` in every task's base_parameters, over the file's own (the example's training
  tags its MLflow run with them);
- the build's wheels as libraries of every task on classic compute (a job, new or existing cluster).
  A serverless task takes no libraries (the Jobs API refuses them): there the notebook-scoped
  install_libraries that ci writes into the build's folder installs them;
- the tags (kept in RunSpec.tags, and on every new cluster as custom_tags, which runs/submit forwards
  to the cluster: it takes no run-level tags), the run name and the idempotency token;
- the definition's environments and performance_target, passed on as they are.
A job_cluster_key is already resolved into the job cluster's spec (bricktasks.jobdef): runs/submit
has no job_clusters[], so each task naming one gets a cluster of its own with that spec.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bricktasks.backends.base import Compute, NewCluster, NotebookTask, RunSpec
from bricktasks.buildinfo import BuildInfo
from bricktasks.jobdef.definition import JobDefinition, TaskDefinition
from bricktasks.layout import join

__all__ = ["build_run_spec", "build_tags", "build_parameters"]


def build_tags(build: BuildInfo) -> dict[str, str]:
    return {"bricktasks-build": build.build_id, "bricktasks-branch": build.branch}


def build_parameters(build: BuildInfo) -> dict[str, str]:
    return {"build": build.build_id, "branch": build.branch}


def _tagged(compute: Compute | None, tags: dict[str, str]) -> Compute | None:
    """A new cluster carries the run's tags as custom_tags (the build's win over the file's)."""
    if isinstance(compute, NewCluster):
        return NewCluster({**compute.spec, "custom_tags": {**compute.spec.get("custom_tags", {}), **tags}})
    return compute


def _task(task: TaskDefinition, ci_folder: str, build: BuildInfo, tags: dict[str, str]) -> NotebookTask:
    return NotebookTask(
        task_key=task.task_key,
        notebook_path=join(ci_folder, task.notebook),
        base_parameters={**task.base_parameters, **build_parameters(build)},
        depends_on=task.depends_on,
        run_if=task.run_if,
        compute=_tagged(task.compute, tags),
        libraries=task.libraries,
        timeout_seconds=task.timeout_seconds,
        max_retries=task.max_retries,
        min_retry_interval_millis=task.min_retry_interval_millis,
        retry_on_timeout=task.retry_on_timeout,
    )


def build_run_spec(
    job: JobDefinition, *, ci_folder: str, run_name: str, build: BuildInfo, wheels: Sequence[dict[str, Any]],
    timeout_s: float, idempotency_token: str,
) -> RunSpec:
    """The run of `job` for `build`. The run's limit is the definition's timeout_seconds where it is
    shorter than ci's own wait (BRICKTASKS_TIMEOUT / --timeout), else the wait: ci cancels then anyway."""
    tags = {**job.tags, **build_tags(build)}
    timeout = min(job.timeout_seconds, int(timeout_s)) if job.timeout_seconds else int(timeout_s)
    return RunSpec(
        run_name=run_name,
        tasks=tuple(_task(task, ci_folder, build, tags) for task in job.tasks),
        compute=_tagged(job.compute, tags),
        # the run's libraries go to every task on classic compute and to none on serverless (RunSpec.task_libraries)
        libraries=tuple(job.libraries) + tuple(wheel for wheel in wheels if wheel not in job.libraries),
        timeout_seconds=timeout,
        idempotency_token=idempotency_token,
        tags=tags,
        environments=job.environments,
        performance_target=job.performance_target,
    )
