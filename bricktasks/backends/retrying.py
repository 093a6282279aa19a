"""`RetryingBackend`: any backend, with a `RetryPolicy` applied to its calls (decorator pattern).

As httpx keeps retries in its transport, a task opens its backend wrapped once
(`bricktasks.project.open_backend`) and every call site calls it plainly. What is tried again:

- reads, and writes that converge when repeated (mkdirs, import, upload, delete): always;
- `submit_run`: only with an idempotency token, which makes a retried submit answer the run the
  first one started; without one a retry could start a second run, so it is sent once;
- `cancel_run` and `move_file`: never. A cancel is made on the way out (a timeout or a signal)
  by a caller that bounds it with a deadline of its own (bricktasks.runs.supervise); a retried
  move finds its source gone when the first attempt went through.

A caller that retries by itself (sync's AdaptiveConcurrency, which must see every RateLimited to
slow its pace) or needs another policy (waiting for a run) asks `with_policy(backend, policy)`:
the same inner backend under that policy, never a retry loop inside another.
"""
from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bricktasks.backends.base import Backend, FileInfo, Job, ObjectInfo, Run, RunOutput, RunSpec
from bricktasks.backends.retry import DEFAULT_POLICY, RetryPolicy

__all__ = ["RetryingBackend", "with_policy", "without_retries"]


class RetryingBackend(Backend):
    """`inner`'s operations, each tried again under `policy` where that is safe (see the module)."""

    def __init__(self, inner: Backend, policy: RetryPolicy = DEFAULT_POLICY) -> None:
        # never a retry loop inside another: wrapping a wrapper replaces its policy
        self.inner: Backend = inner.inner if isinstance(inner, RetryingBackend) else inner
        self.policy = policy
        self.name = self.inner.name  # "local" or "databricks", as printed by the tasks

    def __repr__(self) -> str:
        return f"RetryingBackend({self.inner!r}, {self.policy!r})"

    # -- workspace -----------------------------------------------------------
    def get_status(self, path: str) -> ObjectInfo:
        return self.policy.call(lambda: self.inner.get_status(path))

    def list(self, path: str) -> builtins.list[ObjectInfo]:
        return self.policy.call(lambda: self.inner.list(path))

    def mkdirs(self, path: str) -> None:
        self.policy.call(lambda: self.inner.mkdirs(path))

    def import_object(
        self, path: str, content: bytes, *, format: str = "AUTO", language: str | None = None, overwrite: bool = False
    ) -> None:
        self.policy.call(lambda: self.inner.import_object(path, content, format=format, language=language, overwrite=overwrite))

    def export(self, path: str, *, format: str = "SOURCE") -> bytes:
        return self.policy.call(lambda: self.inner.export(path, format=format))

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self.policy.call(lambda: self.inner.delete(path, recursive=recursive))

    # -- files ---------------------------------------------------------------
    def file_status(self, path: str) -> FileInfo:
        return self.policy.call(lambda: self.inner.file_status(path))

    def list_files(self, path: str) -> builtins.list[FileInfo]:
        return self.policy.call(lambda: self.inner.list_files(path))

    def check_volume(self, catalog: str, schema: str, volume: str) -> None:
        self.policy.call(lambda: self.inner.check_volume(catalog, schema, volume))

    def upload_file(self, path: str, source: Path, *, overwrite: bool = False) -> None:
        self.policy.call(lambda: self.inner.upload_file(path, source, overwrite=overwrite))

    def read_file(self, path: str) -> bytes:
        return self.policy.call(lambda: self.inner.read_file(path))

    def move_file(self, source: str, destination: str, *, overwrite: bool = False) -> None:
        self.inner.move_file(source, destination, overwrite=overwrite)  # once: see the module

    def delete_file(self, path: str, *, recursive: bool = False) -> None:
        self.policy.call(lambda: self.inner.delete_file(path, recursive=recursive))

    def mkdirs_files(self, path: str) -> None:
        self.policy.call(lambda: self.inner.mkdirs_files(path))

    # -- jobs ----------------------------------------------------------------
    def submit_run(self, spec: RunSpec) -> int:
        if spec.idempotency_token is None:
            return self.inner.submit_run(spec)  # once: a retry could start a second run
        return self.policy.call(lambda: self.inner.submit_run(spec))

    def get_run(self, run_id: int) -> Run:
        return self.policy.call(lambda: self.inner.get_run(run_id))

    def cancel_run(self, run_id: int) -> None:
        self.inner.cancel_run(run_id)  # once: its caller has a deadline of its own (see the module)

    def repair_run(
        self, run_id: int, *, rerun_tasks: Sequence[str] = (), rerun_all_failed_tasks: bool = False,
        rerun_dependent_tasks: bool = False, latest_repair_id: int | None = None,
    ) -> int:
        # once: a repair has no idempotency token, and a retried one could rerun the tasks twice
        return self.inner.repair_run(
            run_id, rerun_tasks=rerun_tasks, rerun_all_failed_tasks=rerun_all_failed_tasks,
            rerun_dependent_tasks=rerun_dependent_tasks, latest_repair_id=latest_repair_id,
        )

    def get_run_output(self, task_run_id: int) -> RunOutput:
        return self.policy.call(lambda: self.inner.get_run_output(task_run_id))

    def export_run(self, run_id: int) -> str:
        return self.policy.call(lambda: self.inner.export_run(run_id))

    def list_runs(self, *, active_only: bool = False, job_id: int | None = None, limit: int | None = None) -> builtins.list[Run]:
        return self.policy.call(lambda: self.inner.list_runs(active_only=active_only, job_id=job_id, limit=limit))

    # -- saved jobs: reads retried; writes once unless repeating them changes nothing ----------
    def create_job(self, settings: dict[str, Any]) -> int:
        return self.inner.create_job(settings)  # once: a retry after a lost answer would make a second job

    def get_job(self, job_id: int) -> Job:
        return self.policy.call(lambda: self.inner.get_job(job_id))

    def list_jobs(self, *, name: str | None = None) -> builtins.list[Job]:
        return self.policy.call(lambda: self.inner.list_jobs(name=name))

    def reset_job(self, job_id: int, settings: dict[str, Any]) -> None:
        self.policy.call(lambda: self.inner.reset_job(job_id, settings))  # a full replace: the same twice is the same

    def update_job(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: Sequence[str] = ()) -> None:
        # once: a repeated removal of tasks/<key> would fail on the second attempt, hiding the first's success
        self.inner.update_job(job_id, new_settings, fields_to_remove)

    def delete_job(self, job_id: int) -> None:
        self.inner.delete_job(job_id)  # once: a retried delete would answer NotFound for a job it deleted

    def run_now(
        self, job_id: int, *, job_parameters: dict[str, str] | None = None, notebook_params: dict[str, str] | None = None,
        idempotency_token: str | None = None,
    ) -> int:
        def call() -> int:
            return self.inner.run_now(
                job_id, job_parameters=job_parameters, notebook_params=notebook_params, idempotency_token=idempotency_token
            )

        return self.policy.call(call) if idempotency_token else call()  # once without a token: a retry could start two runs

    # -- capabilities and plumbing: forwarded as they are --------------------
    def run_page_url(self, run: Run) -> str | None:
        return self.inner.run_page_url(run)

    def job_page_url(self, job_id: int) -> str | None:
        return self.inner.job_page_url(job_id)

    def task_result(self, task_run_id: int) -> dict[str, Any] | None:
        return self.inner.task_result(task_run_id)

    def run_log_location(self, run_id: int) -> str | None:
        return self.inner.run_log_location(run_id)

    def tracked_metrics(self, mlflow_run_id: str) -> dict[str, float] | None:
        return self.inner.tracked_metrics(mlflow_run_id)  # best effort, read once: None is a fine answer

    @contextlib.contextmanager
    def throttle_listener(self, listener: Callable[[], None]) -> Iterator[None]:
        with self.inner.throttle_listener(listener):
            yield

    def close(self) -> None:
        self.inner.close()


def with_policy(backend: Backend, policy: RetryPolicy) -> Backend:
    """`backend`'s inner backend under `policy` instead of the retries it had (none: the backend itself)."""
    inner = backend.inner if isinstance(backend, RetryingBackend) else backend
    return RetryingBackend(inner, policy) if policy.retries else inner


def without_retries(backend: Backend) -> Backend:
    """`backend` with no retries of ours (the SDK's own, inside one call, still apply)."""
    return backend.inner if isinstance(backend, RetryingBackend) else backend
