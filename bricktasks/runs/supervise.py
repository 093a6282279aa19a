"""Submit a run, wait for it (polling that starts fast), cancel it on timeout or signal, collect output.

The databricks-sdk's own waiter ignores result_state and leaves the run running when it times
out; this loop owns both. SIGINT and SIGTERM (what CI systems send when a pipeline is
cancelled) cancel the run before the process exits, so no cluster keeps burning money.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from bricktasks.backends.base import Backend, Run, RunOutput
from bricktasks.backends.retry import WAIT_POLICY
from bricktasks.backends.retrying import with_policy, without_retries
from bricktasks.durations import format_duration
from bricktasks.errors import BackendError, RateLimited, TransientError
from bricktasks.interrupts import Interrupted, deferred, handle_signals, hurrying

__all__ = [
    "Interrupted",
    "RunTimedOut",
    "WaitOutcome",
    "Supervised",
    "wait_for_run",
    "supervise_run",
    "cancel_and_settle",
    "signals_raise",
    "submit_answered",
    "CANCEL_DEADLINE_SECONDS",
    "collect_outputs",
    "poll_delays",
]

class RunTimedOut(Exception):
    """The run did not finish within --timeout."""


@dataclass(frozen=True)
class WaitOutcome:
    run: Run
    elapsed_s: float


# kept under these names: the task guard installs the handlers once (handle_signals), and a
# nested block inside it changes nothing
signals_raise = handle_signals
signals_ignored = deferred


def poll_delays(start: float = 0.5, factor: float = 1.15, cap: float = 5.0) -> Iterator[float]:
    """0.5, 0.58, 0.66, ... up to 5 s (reached after about 35 s): a run of a few seconds is noticed
    within about half a second (the interval then is about 1 s), a long one within 5 s, and a
    long wait costs one request per 5 s."""
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * factor)


def wait_for_run(
    backend: Backend,
    run_id: int,
    *,
    timeout_s: float,
    on_state: Callable[[Run, float], None] | None = None,
    poll_start: float = 0.5,
    poll_cap: float = 5.0,
) -> WaitOutcome:
    """Poll until the run is terminal; RunTimedOut when `timeout_s` passes first. `on_state` is called
    when the run's state or a task's state or attempt changes."""
    # the wait must survive a restarting API (bounded): transient faults retried for about a minute
    polled = with_policy(backend, WAIT_POLICY)
    started = time.monotonic()
    last_state = None
    for delay in poll_delays(poll_start, cap=poll_cap):
        run = polled.get_run(run_id)
        elapsed = time.monotonic() - started
        state = _seen_state(run)
        if state != last_state and on_state:
            on_state(run, elapsed)
        last_state = state
        if run.is_terminal:
            return WaitOutcome(run, elapsed)
        if elapsed >= timeout_s:
            raise RunTimedOut(f"the run did not finish within {format_duration(timeout_s)}")
        time.sleep(min(delay, max(0.05, timeout_s - elapsed)))
    raise AssertionError("unreachable")


def _seen_state(run: Run) -> tuple:
    """What on_state is told about when it changes: the run's state and each task attempt's."""
    tasks = tuple((task.task_key, task.life_cycle_state, task.result_state, task.attempt_number) for task in run.tasks)
    return (run.life_cycle_state, run.result_state, tasks)


# a cancel, answered or not, and the wait for the run to end, within this: CI systems SIGKILL a
# process some seconds after their SIGTERM, and an unreachable host must not hold a signalled task
CANCEL_DEADLINE_SECONDS = 15.0


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel achieved: whether the workspace accepted it, the run as last seen, why not."""

    accepted: bool
    run: Run | None
    error: str = ""

    def describe(self, run_id: int, *, page_url: str | None = None) -> str:
        """For the task's last line: the run was cancelled, or may still be running (with its URL)."""
        url = (self.run.run_page_url if self.run else None) or page_url
        if self.accepted and self.run is not None and self.run.is_terminal:
            return f"run {run_id} was cancelled"
        if self.accepted:
            return f"run {run_id} was asked to cancel" + (f": {url}" if url else "")
        where = f": {url}" if url else " (see the workspace's Job Runs)"
        return f"could not cancel run {run_id} ({self.error}); it may still be running{where}"


def cancel_briefly(backend: Backend, run_id: int, *, deadline_s: float = CANCEL_DEADLINE_SECONDS) -> CancelOutcome:
    """Cancel the run and wait for it to end, all within `deadline_s`; never raises (but a signal
    that arrives meanwhile is raised when it is done)."""
    deadline = time.monotonic() + deadline_s
    backend = without_retries(backend)  # this loop retries within the deadline; a retry policy's sleeps would overrun it
    with deferred(), hurrying():
        error = ""
        while True:
            try:
                backend.cancel_run(run_id)
                break
            except (RateLimited, TransientError, OSError) as exc:
                error = _short(exc)
            except BackendError as exc:
                return CancelOutcome(False, None, _short(exc))
            if time.monotonic() + 0.5 >= deadline:
                return CancelOutcome(False, None, error)
            time.sleep(0.5)
        run = None
        while time.monotonic() < deadline:
            try:
                run = backend.get_run(run_id)
            except (BackendError, OSError):
                run = None
            if run is not None and run.is_terminal:
                break
            time.sleep(0.2)
        return CancelOutcome(True, run)


def _short(exc: BaseException) -> str:
    one_line = getattr(exc, "one_line", None)
    return one_line() if callable(one_line) else str(exc) or type(exc).__name__


def cancel_and_settle(backend: Backend, run_id: int, *, settle_s: float = CANCEL_DEADLINE_SECONDS) -> Run | None:
    """Cancel the run and wait briefly for it to reach a terminal state; never raises."""
    return cancel_briefly(backend, run_id, deadline_s=settle_s).run


def submit_answered(submit: Callable[[], int], *, wait_s: float = CANCEL_DEADLINE_SECONDS) -> int:
    """`submit()`'s run id; a signal while it is in flight waits (up to `wait_s`) for the answer.

    The request runs in a thread of its own: a signal in the main thread then cannot cut the
    exchange between the workspace creating the run and us reading its id. `Interrupted` carries
    the id in `run_id` when the answer came, so the caller can cancel that run."""
    answer: Future[int] = Future()

    def run() -> None:
        try:
            answer.set_result(submit())
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread as is
            answer.set_exception(exc)

    threading.Thread(target=run, name="submit", daemon=True).start()
    try:
        return answer.result()
    except Interrupted as interrupted:
        with deferred():
            try:
                interrupted.run_id = answer.result(timeout=wait_s)
            except TimeoutError:
                interrupted.run_id = None
                interrupted.detail = f"the run submit got no answer within {wait_s:g} s: a run may have started"
            except Exception as exc:  # noqa: BLE001 - the submit failed: no run to cancel
                interrupted.run_id = None
                interrupted.detail = f"no run was started ({_short(exc)})"
        raise


def collect_outputs(backend: Backend, run: Run) -> dict[str, RunOutput]:
    """Each task's output (its newest attempt's), asked by the task's own run id (the parent answers 400)."""
    outputs = {}
    for task in run.latest_tasks():
        try:
            outputs[task.task_key] = backend.get_run_output(task.run_id)
        except BackendError as exc:
            outputs[task.task_key] = RunOutput(error=f"could not fetch the output: {exc.one_line()}")
    return outputs


@dataclass(frozen=True)
class Supervised:
    """How a supervised wait ended: the run as last seen, the exit code, and the signal if any."""

    run: Run | None
    elapsed_s: float
    exit_code: int
    interrupted: Interrupted | None = None


def supervise_run(
    backend: Backend,
    run_id: int,
    *,
    timeout_s: float,
    on_state: Callable[[Run, float], None] | None = None,
    on_cancel: Callable[[str], None] | None = None,
) -> Supervised:
    """Wait for the run; cancel it on timeout (exit 124) or SIGINT/SIGTERM (130/143). Never leaves it running
    without saying so: a cancel the workspace did not answer is in `interrupted.detail` with the run's URL."""
    last_seen: list[Run] = []

    def seen(run: Run, elapsed: float) -> None:
        last_seen[:] = [run]
        if on_state:
            on_state(run, elapsed)

    try:
        with signals_raise():
            outcome = wait_for_run(backend, run_id, timeout_s=timeout_s, on_state=seen)
    except RunTimedOut as exc:
        if on_cancel:
            on_cancel(f"{exc}; cancelling run {run_id}")
        cancelled = cancel_briefly(backend, run_id)
        if not cancelled.accepted and on_cancel:
            on_cancel(cancelled.describe(run_id, page_url=_page_url(last_seen)))
        return Supervised(cancelled.run, timeout_s, 124)
    except Interrupted as interrupted:
        if on_cancel:
            on_cancel(f"{interrupted} received; cancelling run {run_id}")
        cancelled = cancel_briefly(backend, run_id)
        interrupted.detail = cancelled.describe(run_id, page_url=_page_url(last_seen))
        return Supervised(cancelled.run, 0.0, interrupted.exit_code, interrupted)
    run = outcome.run
    code = 0 if run.succeeded else 124 if run.result_state == "TIMEDOUT" else 1
    return Supervised(run, outcome.elapsed_s, code)


def _page_url(last_seen: list[Run]) -> str | None:
    return last_seen[0].run_page_url if last_seen else None
