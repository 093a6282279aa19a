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
    """At most `maximum` actions at once; after a rate limit, actions also start no faster than the
    server was seen to allow.

    A 429 costs the request that got it a whole Retry-After (the SDK sleeps at least a second,
    holding its worker), while the server's bucket refills every 1/rate s: sending into the limit
    and sleeping wastes tokens whenever every worker sleeps at once, which is how a sync's last
    uploads and its listings ended (1.2 s idle at the end of a 250-file upload at 30/s). So the
    first rate limit sets a pace from the successes of the last second (the rate the server let
    through), each further one slows it by a tenth (once per `PACE_WINDOW` at most: a burst is one
    signal), and every success speeds it up a little, probing for a higher limit. Concurrency stays
    at `maximum`: halving it to one request in flight would cap the rate at 1/latency.
    """

    PACE_WINDOW = 1.0  # seconds of successes that measure the server's rate, and between two slow-downs
    SLOWER = 1.1  # the interval grows by this on a further rate limit
    FASTER = 0.9993  # and shrinks by this on each success (about 2% a second at 30 requests/s)

    def __init__(self, maximum: int, *, attempts: int = 8, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.active = 0
        self.attempts = attempts
        self.rate_limited = 0  # rate-limit signals taken into account (a burst counts once)
        self.interval = 0.0  # seconds between two starts; 0 until the first rate limit
        self._clock, self._sleep = clock, sleep
        self._condition = threading.Condition()
        self._successes: list[float] = []  # when recent actions succeeded, for the first pace
        self._next_start = float("-inf")
        self._last_cut = float("-inf")

    def run(self, action: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            self._start()
            try:
                value = action()
            except (RateLimited, TransientError) as exc:
                self._release(success=False, rate_limited=isinstance(exc, RateLimited))
                if attempt == self.attempts or received() is not None:
                    raise
                self._sleep((getattr(exc, "retry_after", None) or 0.5 * attempt) + random.uniform(0, 0.25))
                continue
            except BaseException:
                # any other failure (or a signal) still frees its place: a caller that goes on with the
                # same limiter after it (a failed sync observing what it wrote) must not wait forever
                self._release(success=False, rate_limited=False)
                raise
            self._release(success=True, rate_limited=False)
            return value
        raise AssertionError("unreachable")

    def throttled(self) -> None:
        """The server answered 429 (a retry inside the client will follow): slow the pace."""
        with self._condition:
            self._slow_down()

    def _start(self) -> None:
        with self._condition:
            while self.active >= self.limit:
                self._condition.wait()
            self.active += 1
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            self._sleep(start - now)

    def _slow_down(self) -> None:
        now = self._clock()
        if now - self._last_cut < self.PACE_WINDOW:
            return
        self._last_cut = now
        self.rate_limited += 1
        if self.interval:
            self.interval *= self.SLOWER
        else:
            recent = sum(1 for stamp in self._successes if stamp > now - self.PACE_WINDOW)
            self.interval = self.PACE_WINDOW / max(recent, 1)
        self._successes.clear()

    def _release(self, *, success: bool, rate_limited: bool) -> None:
        with self._condition:
            self.active -= 1
            if rate_limited:
                self._slow_down()
            elif success:
                if self.interval:
                    self.interval *= self.FASTER
                else:
                    now = self._clock()
                    self._successes = [stamp for stamp in self._successes if stamp > now - self.PACE_WINDOW]
                    self._successes.append(now)
            self._condition.notify_all()
