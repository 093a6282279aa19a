"""A time limit for `dbutils.notebook.run(path, timeout_seconds)` in the same process.

A child notebook runs on the main thread, so the limit is a SIGALRM timer that raises
DeadlineExceeded inside whatever the child is doing. Limits nest: an inner one is
restored to the outer one's remaining time when it ends. Off the main thread (where
signals cannot be used) and for 0, there is no limit, as `timeout_seconds=0` means on
Databricks.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

__all__ = ["DeadlineExceeded", "deadline"]


class DeadlineExceeded(BaseException):
    """The time limit of a child notebook ran out (a BaseException: notebook code must not catch it)."""

    def __init__(self, token: object) -> None:
        super().__init__("time limit reached")
        self.token = token


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[object]:
    """Raise DeadlineExceeded (carrying the yielded token) if the block runs past `seconds`."""
    token = object()
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield token
        return

    started = time.monotonic()
    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    ours_first = outer_remaining <= 0 or seconds <= outer_remaining

    def expire(signum: int, frame: FrameType | None) -> None:
        if not ours_first and callable(previous):
            previous(signum, frame)  # the outer limit ran out first: it is the outer one's to report
        raise DeadlineExceeded(token)

    previous = signal.signal(signal.SIGALRM, expire)
    limit = seconds if ours_first else outer_remaining
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield token
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining > 0:
            # the outer limit keeps running; give it back what is left (at least a moment)
            signal.setitimer(signal.ITIMER_REAL, max(outer_remaining - (time.monotonic() - started), 0.001))
