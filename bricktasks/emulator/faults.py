"""What the emulator does to requests on purpose: latency, a rate limit and random faults.

Faults are decided when a request arrives, before its handler runs, from one seeded random
stream: the same seed and the same sequence of requests give the same faults. Kinds:

    503         answer 503 TEMPORARILY_UNAVAILABLE without applying the request
    drop        close the connection without an answer, without applying the request
    drop-after  apply the request, then close the connection without an answer (a retry
                then meets its own earlier success: what idempotency has to survive)
"""
from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "DEFAULT_FAULT_KINDS", "TokenBucket", "FaultInjector", "parse_fault_kinds"]

FAULT_KINDS = ("503", "drop", "drop-after")
DEFAULT_FAULT_KINDS = ("503", "drop")


def parse_fault_kinds(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'503,drop-after' -> ('503', 'drop-after'); unknown kinds are a ValueError."""
    kinds = tuple(part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"fault kinds must be some of {', '.join(FAULT_KINDS)}; got {text!r}")
    return kinds


class TokenBucket:
    """`rate` requests per second on average, bursts up to `rate` (at least one)."""

    def __init__(self, rate: float, *, clock=time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the rate limit must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None if the request may pass, else the whole seconds to wait (>= 1), for Retry-After."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - self._tokens) / self.rate))


@dataclass
class FaultInjector:
    """Draws one fault decision per eligible request from a seeded stream."""

    rate: float
    seed: int | None = None
    kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("the fault rate is a probability between 0 and 1")
        self.kinds = parse_fault_kinds(self.kinds)
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def decide(self) -> str | None:
        """The fault for the next request, or None. Always draws twice, so decisions stay aligned."""
        with self._lock:
            hit = self._random.random() < self.rate
            kind = self.kinds[int(self._random.random() * len(self.kinds)) % len(self.kinds)]
        return kind if hit else None
