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
def test_a_burst_of_429s_halves_the_limit_once_then_successes_grow_it_back():
    limiter = AdaptiveConcurrency(16)
    for _ in range(10):  # ten 429s answered together are one signal
        limiter.throttled()
    assert limiter.limit == 8 and limiter.rate_limited == 1
    for _ in range(8 + 9):  # a full window of successes at each size adds one
        limiter.run(lambda: None)
    assert limiter.limit == 10


def test_a_rate_limited_action_is_retried_after_its_retry_after_and_halves_the_limit():
    limiter = AdaptiveConcurrency(4)
    attempts = []

    def action():
        attempts.append(1)
        if len(attempts) == 1:
            raise RateLimited("429", "slow down", 0.01)
        return "done"

    assert limiter.run(action) == "done"
    assert len(attempts) == 2 and limiter.limit == 2 and limiter.active == 0
