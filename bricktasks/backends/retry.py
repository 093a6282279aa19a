"""Retrying rate-limited and transient failures, and concurrency that adapts to rate limits.

The databricks-sdk already retries 429 and 503 inside one call; these helpers cover what is
left: a call the SDK gave up on, the local backend, and how many calls we run at once.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Callable, TypeVar

from bricktasks.errors import RateLimited, TransientError
from bricktasks.interrupts import received

__all__ = ["call_with_retries", "AdaptiveConcurrency"]

T = TypeVar("T")


def call_with_retries(
    action: Callable[[], T], *, attempts: int = 6, base_delay: float = 0.5, max_delay: float = 10.0
) -> T:
    """Run `action`, retrying RateLimited (after its Retry-After) and TransientError with backoff
    (not after SIGINT/SIGTERM: the task is on its way out)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (RateLimited, TransientError) as exc:
            if attempt == attempts or received() is not None:
                raise
            delay = getattr(exc, "retry_after", None) or min(max_delay, base_delay * 2 ** (attempt - 1))
            time.sleep(delay + random.uniform(0, base_delay))
    raise AssertionError("unreachable")


class AdaptiveConcurrency:
    """At most `limit` actions at once; halve the limit on a rate limit, grow it back on success."""

    def __init__(self, maximum: int, *, attempts: int = 8) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.active = 0
        self.attempts = attempts
        self.rate_limited = 0
        self._condition = threading.Condition()
        self._successes = 0
        self._last_cut = float("-inf")

    def run(self, action: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            with self._condition:
                while self.active >= self.limit:
                    self._condition.wait()
                self.active += 1
            try:
                value = action()
            except (RateLimited, TransientError) as exc:
                self._release(success=False, rate_limited=isinstance(exc, RateLimited))
                if attempt == self.attempts or received() is not None:
                    raise
                time.sleep((getattr(exc, "retry_after", None) or 0.5 * attempt) + random.uniform(0, 0.25))
                continue
            self._release(success=True, rate_limited=False)
            return value
        raise AssertionError("unreachable")

    def throttled(self) -> None:
        """The server answered 429 (a retry inside the client will follow): halve the limit, once
        per second at most, since a burst of 429s is one signal."""
        with self._condition:
            now = time.monotonic()
            if now - self._last_cut < 1.0:
                return
            self._last_cut = now
            self.rate_limited += 1
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def _release(self, *, success: bool, rate_limited: bool) -> None:
        with self._condition:
            self.active -= 1
            if rate_limited:
                self.rate_limited += 1
                self.limit = max(1, self.limit // 2)
                self._successes = 0
            elif success:
                self._successes += 1
                if self._successes >= self.limit and self.limit < self.maximum:
                    self.limit += 1  # additive increase after a full window of successes
                    self._successes = 0
            self._condition.notify_all()
