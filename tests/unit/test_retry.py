"""AdaptiveConcurrency: fewer requests at once after a rate limit, more again after successes."""
from __future__ import annotations

from bricktasks.backends.retry import AdaptiveConcurrency
from bricktasks.errors import RateLimited


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
