"""A local run's task graph, run to its end: order, parallelism, run_if, retries, timeouts, compute start-up.

One loop in the supervisor process, polling: it never blocks on one task, so a cancel, the run's
timeout or a finished upstream is seen within a poll interval whatever else is running. Each task,
once every dependency is terminal, either runs or ends without running as `bricktasks.dag.outcomes`
decides; the run's verdict is that module's too. A task already terminal when the loop starts (a
repair keeps the successful ones) counts as done with its result.

Choices where the Jobs API reference leaves them open (all "unconfirmed" there):
- a task not run because of its upstream ends in life_cycle_state SKIPPED, with a message naming
  the upstream task;
- a retry is a new task run (new run id, same task_key, attempt_number + 1) that waits in
  WAITING_FOR_RETRY for min_retry_interval_millis; the failed attempt keeps its own state;
- a task's timeout_seconds counts from its process start (a cluster start-up is not part of it); the
  run's counts from the supervisor's start, repairs included anew; when it passes, running tasks are
  killed (TIMEDOUT), the others CANCELED, and the run ends TIMEDOUT.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bricktasks.backends.base import TERMINAL_STATES
from bricktasks.backends.local_libraries import task_libraries
from bricktasks.backends.local_runs import LocalRunStore, kill_process_group, now_ms
from bricktasks.backends.local_worker import start_task, task_outcome
from bricktasks.dag.graph import topological_order, upstream_of
from bricktasks.dag.outcomes import CANCELLED, FAILED, RUN, decide, run_verdict

__all__ = ["MAX_PARALLEL_TASKS", "UNLIMITED_RETRIES_CAP", "RunScheduler"]

# Tasks running at once. The machine has 2 cores and each task is a Python process with its own local
# Spark (a JVM); a third would only make all of them slower. Tasks waiting for a cluster do not count.
MAX_PARALLEL_TASKS = 2
# max_retries -1 means "forever" on Databricks; here a notebook that always fails would loop for
# good, so -1 retries this many times and then fails as any other task out of retries.
UNLIMITED_RETRIES_CAP = 5
POLL_SECONDS = 0.05
WAITING_FOR_CLUSTER = "Waiting for cluster"


@dataclass
class _Running:
    task_id: int
    process: subprocess.Popen[bytes]
    deadline: float | None  # time.monotonic() at which its own timeout_seconds is reached
    timeout_s: int


class RunScheduler:
    """Runs the non-terminal tasks of one run (a new run, or a repaired one) and ends the run."""

    def __init__(self, store: LocalRunStore, run_id: int, secrets: dict[str, dict[str, str]]) -> None:
        self.store, self.run_id, self.secrets = store, run_id, secrets
        record = store.read(run_id)
        self.settings: dict[str, dict[str, Any]] = {task["task_key"]: task for task in record["spec"]["tasks"]}
        self.dependencies = {
            key: [dependency["task_key"] for dependency in task.get("depends_on", [])] for key, task in self.settings.items()
        }
        self.order = topological_order(self.dependencies)
        self.environments = {env["environment_key"]: env for env in record["spec"].get("environments") or []}
        self.cluster_start_s = float(record.get("cluster_start_s") or 0.0)
        timeout = record["spec"].get("timeout_seconds") or 0
        self.run_timeout_s = timeout
        self.run_deadline = time.monotonic() + timeout if timeout > 0 else None
        self.values_dir = store.run_dir(run_id) / "task_values"
        self.attempt = len(record["repair_history"])  # which of the run's attempts (original, repairs) this loop runs
        newest = store.newest_task_runs(run_id)
        self.current = {key: task.run_id for key, task in newest.items()}  # the attempt each task is on
        self.results = {key: task.result_state or "FAILED" for key, task in newest.items() if task.is_terminal}
        self.running: dict[str, _Running] = {}
        self.retry_at: dict[int, float] = {}  # task run id (a retry) -> when its min_retry_interval_millis is over
        self.failure_messages: dict[str, str] = {}  # task_key -> why it failed before its notebook ran
        self.cluster_ready_at: dict[int, float] = {}  # task run id -> when its new cluster is up (the start-up model)

    # -- the loop ------------------------------------------------------------------
    def run(self) -> None:
        self.store.update(self.run_id, state={"life_cycle_state": "RUNNING", "result_state": None, "state_message": "In run"})
        try:
            self._loop()
        finally:  # SIGTERM (see local_supervisor) or a crash: no task process outlives the loop
            for running in self.running.values():
                kill_process_group(running.process.pid)

    def _loop(self) -> None:
        while True:
            if self._ended_elsewhere():  # cancelled: the canceller kills and ends the tasks, we help
                self._stop_tasks({"life_cycle_state": "TERMINATED", "result_state": "CANCELED", "state_message": "Run cancelled by user"})
                return
            if self.run_deadline is not None and time.monotonic() >= self.run_deadline:
                self._time_out_run()
                return
            self._collect_finished()
            self._advance_waiting()
            if len(self.results) == len(self.settings):
                verdict = run_verdict({key: self.results[key] for key in self.order}, self.dependencies, self.failure_messages)
                self.store.finish(self.run_id, _state(verdict.life_cycle_state, verdict.result_state, verdict.state_message))
                return
            time.sleep(POLL_SECONDS)

    def _ended_elsewhere(self) -> bool:
        """Cancelled, or (a cancel racing a repair) already repaired: a newer supervisor owns the run."""
        record = self.store.read(self.run_id)
        return record["state"]["life_cycle_state"] in TERMINAL_STATES or len(record["repair_history"]) != self.attempt

    # -- running tasks -------------------------------------------------------------
    def _collect_finished(self) -> None:
        for key, running in list(self.running.items()):
            code = running.process.poll()
            if code is None and running.deadline is not None and time.monotonic() >= running.deadline:
                self._kill(running)
                del self.running[key]
                self._ended(key, _state("TERMINATED", "TIMEDOUT", f"Task timed out after {running.timeout_s} seconds"))
            elif code is not None:
                kill_process_group(running.process.pid, grace_seconds=0.2)  # anything the notebook left in its group
                del self.running[key]
                self._ended(key, task_outcome(self.store, running.task_id, code))

    def _kill(self, running: _Running) -> None:
        kill_process_group(running.process.pid)
        running.process.wait()

    def _ended(self, key: str, state: dict[str, Any]) -> None:
        """Record an attempt's end; retry it when its settings allow, else the task is done."""
        task_id = self.current[key]
        record = self.store.update(task_id, state=state, end_time=now_ms())
        ended = record["state"]  # a cancel that came first wins
        if self._should_retry(key, record["attempt_number"], ended):
            retry = self.store.add_attempt(task_id, _state("WAITING_FOR_RETRY", None, "Waiting for retry"))
            self.current[key] = retry
            self.retry_at[retry] = time.monotonic() + self.settings[key].get("min_retry_interval_millis", 0) / 1000
            return
        self.results[key] = ended["result_state"] or "FAILED"
        if ended["life_cycle_state"] == "INTERNAL_ERROR" and ended.get("state_message"):
            self.failure_messages[key] = ended["state_message"]

    def _should_retry(self, key: str, attempt_number: int, state: dict[str, Any]) -> bool:
        settings = self.settings[key]
        allowed = settings.get("max_retries", 0)
        allowed = UNLIMITED_RETRIES_CAP if allowed == -1 else allowed
        if attempt_number >= allowed:
            return False
        if state["result_state"] == "TIMEDOUT":
            return bool(settings.get("retry_on_timeout"))
        return state["result_state"] == "FAILED" or state["life_cycle_state"] == "INTERNAL_ERROR"

    # -- tasks not started yet -----------------------------------------------------
    def _advance_waiting(self) -> None:
        for key in self.order:
            if key in self.results or key in self.running:
                continue
            task_id = self.current[key]
            if task_id in self.retry_at:
                if time.monotonic() < self.retry_at[task_id]:
                    continue
                del self.retry_at[task_id]
                self.store.update(task_id, state=_state("PENDING", None, ""))
            upstream = [self.results.get(dependency) for dependency in self.dependencies[key]]
            if None in upstream:
                continue
            run_if = self.settings[key].get("run_if", "ALL_SUCCESS")
            decision = decide(run_if, [result for result in upstream if result is not None])
            if decision != RUN:
                self._skip(key, decision)
            elif self._cluster_start_pending(key, task_id):
                continue
            elif len(self.running) < MAX_PARALLEL_TASKS:
                self._start(key, task_id)

    def _skip(self, key: str, result: str) -> None:
        message = _skip_message(result, {dependency: self.results[dependency] for dependency in self.dependencies[key]})
        self.store.update(self.current[key], state=_state("SKIPPED", result, message), end_time=now_ms())
        self.results[key] = result

    def _cluster_start_pending(self, key: str, task_id: int) -> bool:
        """True while the task's new cluster is starting (the start-up model: `cluster_start_s`, for
        every attempt: a retry on a new cluster gets a new cluster)."""
        if not self.settings[key].get("new_cluster") or self.cluster_start_s <= 0:
            return False
        if task_id not in self.cluster_ready_at:
            self.cluster_ready_at[task_id] = time.monotonic() + self.cluster_start_s
            self.store.update(task_id, state=_state("PENDING", None, WAITING_FOR_CLUSTER), start_time=now_ms())
        return time.monotonic() < self.cluster_ready_at[task_id]

    def _start(self, key: str, task_id: int) -> None:
        settings = self.settings[key]
        libraries = task_libraries(
            self.store.paths, settings.get("libraries", []), self.environments.get(settings.get("environment_key") or "")
        )
        if libraries.problems:  # as a cluster that cannot install a library: the task fails without running
            self.store.update(task_id, start_time=now_ms())
            self._ended(key, _state("INTERNAL_ERROR", "FAILED", "; ".join(libraries.problems)))
            return
        self.values_dir.mkdir(parents=True, exist_ok=True)
        # this attempt's values are the task's values: none left over from an earlier attempt or run of it
        (self.values_dir / f"{quote(key, safe='')}.json").unlink(missing_ok=True)
        dag_context = {
            "task_key": key,
            "task_values_dir": str(self.values_dir),
            "upstream_task_keys": sorted(upstream_of(self.dependencies, key)),
            "run_task_keys": list(self.settings),
        }
        process = start_task(self.store, task_id, libraries=libraries, dag_context=dag_context, secrets=self.secrets)
        timeout = int(settings.get("timeout_seconds") or 0)
        deadline = time.monotonic() + timeout if timeout > 0 else None
        self.running[key] = _Running(task_id, process, deadline, timeout)

    # -- the run ending early -------------------------------------------------------
    def _time_out_run(self) -> None:
        message = f"Run timed out after {self.run_timeout_s} seconds"
        for key, running in list(self.running.items()):
            self._kill(running)
            del self.running[key]
            self.store.update(running.task_id, state=_state("TERMINATED", "TIMEDOUT", message), end_time=now_ms())
            self.results[key] = "TIMEDOUT"
        self._stop_tasks(_state("TERMINATED", "CANCELED", message))
        self.store.finish(self.run_id, _state("TERMINATED", "TIMEDOUT", message))

    def _stop_tasks(self, state: dict[str, Any]) -> None:
        """Kill what runs and end every task not ended yet with `state`."""
        for running in self.running.values():
            self._kill(running)
        self.running.clear()
        for key in self.order:
            if key not in self.results:
                self.store.update(self.current[key], state=state, end_time=now_ms())


def _state(life_cycle_state: str, result_state: str | None, message: str) -> dict[str, Any]:
    return {"life_cycle_state": life_cycle_state, "result_state": result_state, "state_message": message}


def _skip_message(result: str, upstream: dict[str, str]) -> str:
    """Why a task did not run, naming the upstream task that decided it."""
    if result == "UPSTREAM_CANCELED":
        key = next(key for key, value in upstream.items() if value in CANCELLED)
        return f"Upstream task {key} was cancelled"
    if result == "UPSTREAM_FAILED":
        key = next((key for key, value in upstream.items() if value in FAILED), next(iter(upstream)))
        return f"Upstream task {key} failed"
    return "Excluded: its run_if condition was not met by its upstream tasks"
