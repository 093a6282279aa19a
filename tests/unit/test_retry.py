"""RetryPolicy (which failures are tried again, how often, after how long) and AdaptiveConcurrency
(fewer requests at once after a rate limit, more again after successes)."""
from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time

import pytest

from bricktasks.backends.retry import DEFAULT_POLICY, NO_RETRIES, WAIT_POLICY, AdaptiveConcurrency, RetryPolicy
from bricktasks.errors import NotFound, RateLimited, TransientError
from bricktasks.interrupts import Interrupted, handle_signals


class Failing:
    """An action that raises `errors` in turn, then answers "done"; it counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_the_policy_is_one_frozen_value_with_the_defaults_the_tasks_use():
    assert (DEFAULT_POLICY.attempts, DEFAULT_POLICY.base_delay, DEFAULT_POLICY.max_delay) == (6, 0.5, 10.0)
    assert (WAIT_POLICY.attempts, WAIT_POLICY.base_delay, WAIT_POLICY.max_delay) == (12, 1.0, 8.0)
    assert not NO_RETRIES.retries and DEFAULT_POLICY.retries
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.attempts = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_transient_errors_are_retried_with_exponential_backoff_plus_jitter():
    slept: list[float] = []
    action = Failing(TransientError("503"), TransientError("503"), TransientError("503"))
    assert RetryPolicy(attempts=6, base_delay=0.5, max_delay=1.5).call(action, sleep=slept.append) == "done"
    assert action.calls == 4
    # 0.5, 1.0, then capped at 1.5; each plus a jitter below base_delay
    for waited, backoff in zip(slept, [0.5, 1.0, 1.5], strict=True):
        assert backoff <= waited < backoff + 0.5


def test_a_rate_limit_is_retried_after_its_retry_after():
    slept: list[float] = []
    action = Failing(RateLimited("429", "slow down", 3.0))
    assert RetryPolicy(base_delay=0.1).call(action, sleep=slept.append) == "done"
    assert action.calls == 2 and 3.0 <= slept[0] < 3.1


def test_the_last_attempt_raises_and_other_errors_are_never_retried():
    action = Failing(*[TransientError("down")] * 3)
    with pytest.raises(TransientError):
        RetryPolicy(attempts=3).call(action, sleep=lambda _: None)
    assert action.calls == 3
    missing = Failing(NotFound("gone"))
    with pytest.raises(NotFound):
        RetryPolicy().call(missing, sleep=lambda _: None)
    assert missing.calls == 1
    once = Failing(TransientError("down"))
    with pytest.raises(TransientError):
        NO_RETRIES.call(once)
    assert once.calls == 1


def test_nothing_is_retried_after_a_signal():
    action = Failing(*[TransientError("down")] * 5)
    with handle_signals():
        with pytest.raises(Interrupted):  # (the timer's start is inside: a loaded machine may signal during it)
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
            time.sleep(5)
        with pytest.raises(TransientError):
            RetryPolicy(attempts=6, base_delay=0.01).call(action)
    assert action.calls == 1


# -- AdaptiveConcurrency ------------------------------------------------------------------------
class FakeClock:
    """Time that moves only when the limiter sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(maximum: int = 16) -> tuple[AdaptiveConcurrency, FakeClock]:
    clock = FakeClock()
    return AdaptiveConcurrency(maximum, clock=clock, sleep=clock.sleep), clock


def test_without_a_rate_limit_nothing_waits():
    limiter, clock = paced()
    for _ in range(50):
        limiter.run(lambda: None)
    assert clock.slept == [] and limiter.interval == 0


def test_the_first_429_paces_starts_at_the_rate_the_last_second_let_through():
    limiter, clock = paced()
    for _ in range(30):  # 30 successes within the last second, then the server says 429
        limiter.run(lambda: None)
        clock.now += 0.01
    for _ in range(10):  # ten 429s answered together are one signal
        limiter.throttled()
    assert limiter.rate_limited == 1 and limiter.interval == pytest.approx(1 / 30)
    starts = []
    for _ in range(5):
        limiter.run(lambda: starts.append(clock.now))
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(gap >= (1 / 30) * 0.99 for gap in gaps)  # spaced by the pace (successes speed it up a little)
    assert limiter.limit == 16  # concurrency is not cut: one request in flight would cap the rate at 1/latency


def test_each_further_rate_limit_slows_the_pace_and_successes_speed_it_up_again():
    limiter, clock = paced()
    limiter.run(lambda: None)
    limiter.throttled()
    first = limiter.interval
    clock.now += AdaptiveConcurrency.PACE_WINDOW  # a later signal, not the same burst
    limiter.throttled()
    assert limiter.interval == pytest.approx(first * AdaptiveConcurrency.SLOWER) and limiter.rate_limited == 2
    slowed = limiter.interval
    for _ in range(100):
        limiter.run(lambda: None)
    assert limiter.interval < slowed


def test_a_rate_limited_action_is_retried_after_its_retry_after_and_paces_the_rest():
    limiter, clock = paced(4)
    attempts = []

    def action():
        attempts.append(clock.now)
        if len(attempts) == 1:
            raise RateLimited("429", "slow down", 2.0)
        return "done"

    assert limiter.run(action) == "done"
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 2.0 and limiter.active == 0
    assert limiter.rate_limited == 1 and limiter.interval > 0


@pytest.mark.parametrize("failure", [ConnectionError("reset"), NotFound("gone"), KeyboardInterrupt()])
def test_an_action_that_fails_otherwise_frees_its_place(failure):
    """A failed sync goes on with its limiter (it observes what it wrote): a leaked place would hang it."""
    limiter = AdaptiveConcurrency(1)

    def fail():
        raise failure

    with pytest.raises(type(failure)):
        limiter.run(fail)
    assert limiter.active == 0
    assert limiter.run(lambda: "next") == "next"
