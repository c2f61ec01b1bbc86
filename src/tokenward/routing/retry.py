"""Backoff strategies between attempts (strategy objects, as in redis-py's backoff)."""

from __future__ import annotations

import random
from typing import Protocol


class Backoff(Protocol):
    """Seconds to wait before retry number `attempt` (0 = before the second attempt)."""

    def delay(self, attempt: int) -> float: ...


class NoBackoff:
    """Retry at once (tests, or upstreams behind their own queue)."""

    def delay(self, attempt: int) -> float:
        return 0.0


class ExponentialJitterBackoff:
    """ "Full jitter": uniform in [0, min(cap, base * 2**attempt)].

    Spreads retries of many clients over time instead of synchronising them on the
    upstream that just failed (AWS Architecture Blog, "Exponential Backoff And Jitter").
    """

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if base_s < 0 or cap_s < base_s:
            raise ValueError("need 0 <= base_s <= cap_s")
        self._base = base_s
        self._cap = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0, min(self._cap, self._base * 2 ** max(attempt, 0)))


__all__ = ["Backoff", "ExponentialJitterBackoff", "NoBackoff"]
