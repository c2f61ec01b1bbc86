"""R-LIM-2: one seeded sequence, the same decisions on memory, one Redis and two Redis replicas.

Hypothesis draws sequences of (delta-t, operation, amount) over four limits at once
(requests, tokens on two scopes and windows, concurrency) with commits, releases
and renewals mixed in. Time moves in whole seconds, so the few milliseconds of real
time that pass under Redis never carry an entry across a boundary; times the
backends report are compared with a tolerance, everything else exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenward.clock import FakeClock
from tokenward.limits import LimiterBackend, LimitSpec, MemoryLimiter, Reservation

from .conftest import redis_opener

LEASE = 45.0
TOLERANCE = 0.25
LIMITS = [
    LimitSpec("key", "k1", "requests", 4, window=60),
    LimitSpec("key", "k1", "tokens", 1500, window=60),
    LimitSpec("account", "acme", "tokens", 2500, window=120),
    LimitSpec("key", "k1", "concurrency", 3),
]

Step = tuple[int, str, int]
steps = st.lists(
    st.tuples(
        # mostly bursts, sometimes a pause long enough for a lease or window to pass
        st.sampled_from([0, 0, 0, 1, 3, 10, 30, 46, 61]),
        st.sampled_from(["acquire", "acquire", "acquire", "commit", "release", "renew"]),
        st.one_of(st.integers(0, 200), st.integers(0, 1600)),
    ),
    min_size=1,
    max_size=40,
)


Named = tuple[LimitSpec | None, dict[LimitSpec, float]]
Run = tuple[list[Any], list[float], list[Named]]


async def replay(backends: Sequence[LimiterBackend], clock: FakeClock, sequence: list[Step]) -> Run:
    """Decision vector (exact), reported times (approximate) and the limits named."""
    exact: list[Any] = []
    times: list[float] = []
    named: list[Named] = []
    open_: list[Reservation] = []
    for i, (dt, op, amount) in enumerate(sequence):
        clock.advance(dt)
        backend = backends[i % len(backends)]
        if op == "acquire":
            d = await backend.acquire(f"r{i}", LIMITS, {"tokens": amount})
            exact.append((d.allowed, d.reason, [s.used for s in d.states]))
            times += [d.retry_after, *(s.reset_after for s in d.states)]
            times += [s.retry_after for s in d.states]
            named.append((d.denied_by, {s.spec: s.retry_after for s in d.states}))
            if d.reservation is not None:
                open_.append(d.reservation)
        elif open_:
            reservation = open_.pop(0)
            if op == "commit":
                exact.append(await backend.commit(reservation, amount))
            elif op == "release":
                exact.append(await backend.release(reservation))
            else:
                renewed = await backend.renew(reservation)
                exact.append(renewed is not None)
                if renewed is not None:
                    open_.append(renewed)
    states = await backends[0].peek(LIMITS)
    exact.append([s.used for s in states])
    return exact, times, named


async def on_memory(sequence: list[Step]) -> Run:
    clock = FakeClock()
    return await replay([MemoryLimiter(clock, lease_seconds=LEASE)], clock, sequence)


async def on_redis(url: str, replicas: int, sequence: list[Step]) -> Run:
    clock = FakeClock()
    opener = redis_opener(url, clock, lease_seconds=LEASE)
    backends = [opener() for _ in range(replicas)]
    try:
        return await replay(backends, clock, sequence)
    finally:
        for backend in backends:
            await backend.aclose()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sequence=steps)
def test_same_decisions_on_memory_redis_and_two_replicas(
    redis_url: str, sequence: list[Step]
) -> None:
    """Admit/deny, the limit named, usage and settle results agree step by step."""
    memory = asyncio.run(on_memory(sequence))
    one = asyncio.run(on_redis(redis_url, 1, sequence))
    two = asyncio.run(on_redis(redis_url, 2, sequence))
    assert one[0] == memory[0]
    assert two[0] == memory[0]
    for got in (one, two):
        assert len(got[1]) == len(memory[1])
        assert all(abs(a - b) <= TOLERANCE for a, b in zip(got[1], memory[1], strict=True))
        assert len(got[2]) == len(memory[2])
        for (mine, retries), (theirs, _) in zip(memory[2], got[2], strict=True):
            # limits that free at the same instant on the fake clock are a tie, which
            # the real milliseconds under Redis may break either way
            assert (mine is None) == (theirs is None)
            if mine is not None and theirs is not None:
                assert abs(retries[mine] - retries[theirs]) <= TOLERANCE
