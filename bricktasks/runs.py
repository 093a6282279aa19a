"""Submit a run, wait for it (polling that starts fast), cancel it on timeout or signal, collect output.

The databricks-sdk's own waiter ignores result_state and leaves the run running when it times
out; this loop owns both. SIGINT and SIGTERM (what CI systems send when a pipeline is
cancelled) cancel the run before the process exits, so no cluster keeps burning money.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from bricktasks.backends.base import Backend, Run, RunOutput
from bricktasks.durations import format_duration
from bricktasks.errors import BackendError, NotFound, RateLimited, TransientError
from bricktasks.retry import call_with_retries

__all__ = [
    "Interrupted",
    "RunTimedOut",
    "WaitOutcome",
    "Supervised",
    "wait_for_run",
    "supervise_run",
    "cancel_and_settle",
    "signals_raise",
    "collect_outputs",
    "poll_delays",
]

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while we were waiting."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)


class RunTimedOut(Exception):
    """The run did not finish within --timeout."""


@dataclass(frozen=True)
class WaitOutcome:
    run: Run
    elapsed_s: float


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into `Interrupted` while inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """While cancelling, a second signal (GitHub sends SIGTERM 7.5 s after SIGINT) must not stop us."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def poll_delays(start: float = 0.5, factor: float = 1.15, cap: float = 5.0) -> Iterator[float]:
    """0.5, 0.58, 0.66, ... up to 5 s (reached after about 35 s): a run of a few seconds is noticed
    within about half a second (the interval then is about 1 s), a long one within 5 s, and a
    long wait costs one request per 5 s."""
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * factor)


def _get_run(backend: Backend, run_id: int) -> Run:
    # the wait must survive a restarting API (bounded): retry transient faults for about a minute
    return call_with_retries(lambda: backend.get_run(run_id), attempts=12, base_delay=1.0, max_delay=8.0)


def wait_for_run(
    backend: Backend,
    run_id: int,
    *,
    timeout_s: float,
    on_state: Callable[[Run, float], None] | None = None,
    poll_start: float = 0.5,
    poll_cap: float = 5.0,
) -> WaitOutcome:
    """Poll until the run is terminal; RunTimedOut when `timeout_s` passes first."""
    started = time.monotonic()
    last_state = None
    for delay in poll_delays(poll_start, cap=poll_cap):
        run = _get_run(backend, run_id)
        elapsed = time.monotonic() - started
        state = (run.life_cycle_state, run.result_state)
        if state != last_state and on_state:
            on_state(run, elapsed)
        last_state = state
        if run.is_terminal:
            return WaitOutcome(run, elapsed)
        if elapsed >= timeout_s:
            raise RunTimedOut(f"the run did not finish within {format_duration(timeout_s)}")
        time.sleep(min(delay, max(0.05, timeout_s - elapsed)))
    raise AssertionError("unreachable")


def cancel_and_settle(backend: Backend, run_id: int, *, settle_s: float = 15.0) -> Run | None:
    """Cancel the run and wait briefly for it to reach a terminal state; never raises."""
    with signals_ignored():
        try:
            call_with_retries(lambda: backend.cancel_run(run_id), attempts=4, base_delay=0.2)
        except (BackendError, OSError):
            return None
        deadline = time.monotonic() + settle_s
        run = None
        while time.monotonic() < deadline:
            try:
                run = backend.get_run(run_id)
            except (TransientError, RateLimited, NotFound, OSError):
                run = None
            if run is not None and run.is_terminal:
                return run
            time.sleep(0.2)
        return run


def collect_outputs(backend: Backend, run: Run) -> dict[str, RunOutput]:
    """Each task's output, asked by the task's own run id (the parent answers 400)."""
    outputs = {}
    for task in run.tasks:
        try:
            outputs[task.task_key] = call_with_retries(lambda: backend.get_run_output(task.run_id))
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
    """Wait for the run; cancel it on timeout (exit 124) or SIGINT/SIGTERM (130/143). Never leaves it running."""
    try:
        with signals_raise():
            outcome = wait_for_run(backend, run_id, timeout_s=timeout_s, on_state=on_state)
    except RunTimedOut as exc:
        if on_cancel:
            on_cancel(f"{exc}; cancelling run {run_id}")
        return Supervised(cancel_and_settle(backend, run_id), timeout_s, 124)
    except Interrupted as interrupted:
        if on_cancel:
            on_cancel(f"{interrupted} received; cancelling run {run_id}")
        return Supervised(cancel_and_settle(backend, run_id), 0.0, interrupted.exit_code, interrupted)
    run = outcome.run
    code = 0 if run.succeeded else 124 if run.result_state == "TIMEDOUT" else 1
    return Supervised(run, outcome.elapsed_s, code)
