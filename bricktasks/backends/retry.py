"""The retry policy for rate-limited and transient failures, and concurrency that adapts to rate limits.

The databricks-sdk already retries 429 and 503 inside one call; `RetryPolicy` covers what is
left: a call the SDK gave up on, and the local backend. It is applied in one place, by
`bricktasks.backends.retrying.RetryingBackend` around the backend a task opens; call sites call
the backend plainly. `AdaptiveConcurrency` decides how many calls sync runs at once.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bricktasks.errors import RateLimited, TransientError
from bricktasks.interrupts import received

__all__ = ["RetryPolicy", "DEFAULT_POLICY", "WAIT_POLICY", "NO_RETRIES", "AdaptiveConcurrency"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again, how often and after how long.

    RateLimited is tried again after its Retry-After, TransientError after an exponential backoff
    (`base_delay`, doubling, at most `max_delay`), each plus a jitter of up to `base_delay`; any
    other error at once goes up. At most `attempts` calls in all (1: no retries), and none after
    SIGINT/SIGTERM was received: the task is on its way out.
    """

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy makes at least one attempt; got attempts={self.attempts}")

    @property
    def retries(self) -> bool:
        """Whether a failed call can be tried again at all."""
        return self.attempts > 1

    def delay(self, attempt: int, error: RateLimited | TransientError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), jitter excluded."""
        return getattr(error, "retry_after", None) or min(self.max_delay, self.base_delay * 2 ** (attempt - 1))

    def call(self, action: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
        """`action()`, tried again under this policy."""
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except (RateLimited, TransientError) as exc:
                if attempt == self.attempts or received() is not None:
                    raise
                sleep(self.delay(attempt, exc) + random.uniform(0, self.base_delay))
        raise AssertionError("unreachable")


DEFAULT_POLICY = RetryPolicy()  # every backend a task opens: transient faults for about 20 s (5 backoffs)
# waiting for a run must survive a restarting API (bounded): transient faults for about a minute
WAIT_POLICY = RetryPolicy(attempts=12, base_delay=1.0, max_delay=8.0)
NO_RETRIES = RetryPolicy(attempts=1)  # for callers that retry themselves (AdaptiveConcurrency, a cancel's deadline)


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
