"""Store outages follow the configured policy, answer fast, and recover by themselves.

These tests run their own redis-server, so they can kill, freeze and restart it.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections.abc import Mapping, Sequence

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tokenward.clock import FakeClock
from tokenward.errors import InvalidRequest
from tokenward.limits import (
    Decision,
    FailClosed,
    FailOpen,
    LimiterBackend,
    LimiterUnavailable,
    LimitSpec,
    LimitState,
    MemoryLimiter,
    RedisLimiter,
    Reservation,
    ResilientLimiter,
)

from .conftest import RedisServer

pytestmark = pytest.mark.anyio

LIMITS = [LimitSpec("key", "k1", "requests", 3, window=60)]
#: the production deadline of one limiter call
TIMEOUT = 0.05
PROBE = 0.3
#: for outages by kill: a refused connection fails at once, whatever the deadline, and
#: a roomy one keeps a slow CI from timing out calls that Redis then runs anyway
ROOMY = 0.5


async def admit_until_recovered(limiter: ResilientLimiter, deadline: float = 3.0) -> Decision:
    """Acquire until the store answers again (the policy answers meanwhile)."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        decision = await limiter.acquire("probe", LIMITS)
        if decision.states:  # answered by the store, not by the policy
            return decision
        await asyncio.sleep(PROBE / 2)
    raise AssertionError("the limiter did not recover")


async def assert_exact_again(limiter: ResilientLimiter) -> None:
    """The window admits exactly its remaining capacity, then denies."""
    (state,) = await limiter.peek(LIMITS)
    assert state.used >= 1  # at least the probe that found the store back
    decisions = [await limiter.acquire("d", LIMITS) for _ in range(4)]
    assert sum(d.allowed for d in decisions) == 3 - state.used
    assert all(d.states for d in decisions)  # every one answered by the store


async def test_fail_closed_denies_as_unavailable_then_recovers(
    private_redis: RedisServer,
) -> None:
    """Redis killed: denied fast with "limiter unavailable" (503), never "quota exceeded";
    restarted: exact limiting resumes without restarting anything of ours."""
    policy = FailClosed(retry_after=2.0)
    limiter = ResilientLimiter(
        RedisLimiter.from_url(private_redis.url, timeout=ROOMY), policy, probe_interval=PROBE
    )
    try:
        assert (await limiter.acquire("a", LIMITS)).allowed
        private_redis.kill()
        started = time.monotonic()
        denied = await limiter.acquire("b", LIMITS)
        assert time.monotonic() - started < 0.2  # refused at once: no deadline to wait out
        assert not denied.allowed and denied.reason == "limiter_unavailable"
        assert denied.retry_after == 2.0 and denied.reservation is None
        error = denied.error()
        assert isinstance(error, LimiterUnavailable) and error.status == 503 and error.retryable
        assert "limiter unavailable" in error.message and "limit reached" not in error.message
        # inside the probe interval the dead store is not even tried
        for _ in range(5):
            assert not (await limiter.acquire("c", LIMITS)).allowed
        assert limiter.store_errors == 1 and policy.denied == 6
        assert await limiter.peek(LIMITS) == ()
        with pytest.raises(InvalidRequest):  # bad input is still a 400 during the outage
            await limiter.acquire("bad", [LimitSpec("key", "k1", "tokens", 5, window=60)])

        private_redis.start()  # same port, empty (no persistence): windows start afresh
        assert (await admit_until_recovered(limiter)).allowed
        await assert_exact_again(limiter)
    finally:
        await limiter.aclose()


async def test_fail_open_admits_and_counts_then_recovers(private_redis: RedisServer) -> None:
    """Redis killed: admitted unenforced and counted; settling them is a no-op."""
    policy = FailOpen()
    limiter = ResilientLimiter(
        RedisLimiter.from_url(private_redis.url, timeout=ROOMY), policy, probe_interval=PROBE
    )
    try:
        held = (await limiter.acquire("a", LIMITS)).reservation
        assert held is not None and not held.unenforced
        private_redis.kill()
        decisions = [await limiter.acquire(f"r{i}", LIMITS) for i in range(10)]
        assert all(d.allowed and d.reservation is not None for d in decisions)
        assert policy.admitted == 10
        reservation = decisions[0].reservation
        assert reservation is not None and reservation.unenforced
        assert not await limiter.commit(reservation, 10)
        assert not await limiter.release(reservation)
        assert await limiter.renew(reservation) == reservation
        # a reservation made before the outage cannot be settled now; its lease will expire
        assert not await limiter.commit(held, 10)
        assert await limiter.renew(held) == held

        private_redis.start()
        assert (await admit_until_recovered(limiter)).allowed
        served_open = policy.admitted  # the probe loop was answered open meanwhile
        await assert_exact_again(limiter)
        assert policy.admitted == served_open
    finally:
        await limiter.aclose()


async def test_restart_between_requests_is_invisible(private_redis: RedisServer) -> None:
    """A pooled connection that died with the old server reconnects within the call."""
    policy = FailClosed()
    limiter = ResilientLimiter(
        RedisLimiter.from_url(private_redis.url, timeout=ROOMY), policy, probe_interval=PROBE
    )
    try:
        assert (await limiter.acquire("a", LIMITS)).allowed
        private_redis.kill()
        private_redis.start()
        decision = await limiter.acquire("b", LIMITS)
        assert decision.allowed and decision.states and policy.denied == 0
    finally:
        await limiter.aclose()


async def test_frozen_redis_costs_one_timeout(private_redis: RedisServer) -> None:
    """Redis hung (SIGSTOP): the call gives up after the deadline, then follows the policy."""
    policy = FailOpen()
    limiter = ResilientLimiter(
        RedisLimiter.from_url(private_redis.url, timeout=TIMEOUT), policy, probe_interval=PROBE
    )
    try:
        assert (await limiter.acquire("warm", LIMITS)).allowed
        private_redis.signal(signal.SIGSTOP)
        started = time.monotonic()
        decision = await limiter.acquire("a", LIMITS)
        elapsed = time.monotonic() - started
        assert decision.allowed and policy.admitted == 1
        assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.2
        private_redis.signal(signal.SIGCONT)
        assert (await admit_until_recovered(limiter)).allowed
    finally:
        private_redis.signal(signal.SIGCONT)
        await limiter.aclose()


async def test_busy_script_is_store_unavailable(private_redis: RedisServer) -> None:
    """A long script elsewhere makes Redis answer BUSY: the policy applies, no exception."""
    hog = Redis.from_url(private_redis.url)
    private_redis.cli("CONFIG", "SET", "busy-reply-threshold", "10")
    policy = FailClosed()
    limiter = ResilientLimiter(
        RedisLimiter.from_url(private_redis.url, timeout=0.5), policy, probe_interval=PROBE
    )
    try:
        assert (await limiter.acquire("warm", LIMITS)).allowed
        busy = asyncio.ensure_future(hog.eval("while true do end", 0))
        await asyncio.sleep(0.1)
        decision = await limiter.acquire("a", LIMITS)
        assert decision.reason == "limiter_unavailable" and policy.denied == 1
        private_redis.cli("SCRIPT", "KILL")
        with pytest.raises(ResponseError, match="killed"):
            await busy
        assert (await admit_until_recovered(limiter)).allowed
    finally:
        await hog.aclose()
        await limiter.aclose()


async def test_a_borrowed_client_is_left_open(redis_url: str) -> None:
    """A limiter built on the caller's client does not close it."""
    client = Redis.from_url(redis_url)
    await RedisLimiter(client).aclose()
    assert await client.ping()
    await client.aclose()


async def test_scripts_reload_after_script_flush(private_redis: RedisServer) -> None:
    """EVALSHA falls back to loading the script when the server forgot it."""
    limiter = RedisLimiter.from_url(private_redis.url, timeout=ROOMY)
    try:
        await limiter.warm_up()
        sha = hashlib.sha1(RedisLimiter.ACQUIRE.encode()).hexdigest()
        assert private_redis.cli("SCRIPT", "EXISTS", sha) == "1"
        assert (await limiter.acquire("a", LIMITS)).allowed
        private_redis.cli("SCRIPT", "FLUSH")
        assert (await limiter.acquire("b", LIMITS)).allowed
        assert [s.used for s in await limiter.peek(LIMITS)] == [2]
        private_redis.kill()
        with pytest.raises(LimiterUnavailable, match="unavailable"):
            await limiter.warm_up()
    finally:
        await limiter.aclose()


class _Down:
    """A store backend that is down until told otherwise; counts calls that reach it."""

    def __init__(self, inner: LimiterBackend) -> None:
        self.inner, self.down, self.calls = inner, True, 0

    async def _gate(self) -> None:
        self.calls += 1
        if self.down:
            raise LimiterUnavailable("store down")

    async def acquire(
        self, request_id: str, limits: Sequence[LimitSpec], amounts: Mapping[str, int] | None = None
    ) -> Decision:
        await self._gate()
        return await self.inner.acquire(request_id, limits, amounts)

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        await self._gate()
        return await self.inner.commit(reservation, actual_tokens)

    async def release(self, reservation: Reservation) -> bool:
        await self._gate()
        return await self.inner.release(reservation)

    async def renew(self, reservation: Reservation) -> Reservation | None:
        await self._gate()
        return await self.inner.renew(reservation)

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        await self._gate()
        return await self.inner.peek(limits)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_probe_interval_spares_a_dead_store() -> None:
    """After a failure the store is skipped for the probe interval, then probed again."""
    clock = FakeClock()
    store = _Down(MemoryLimiter(clock))
    limiter = ResilientLimiter(store, FailClosed(), clock=clock, probe_interval=1.0)
    assert not (await limiter.acquire("a", LIMITS)).allowed
    assert not limiter.available
    for _ in range(3):
        assert not (await limiter.acquire("b", LIMITS)).allowed
    assert store.calls == 1
    clock.advance(1.0)
    store.down = False
    decision = await limiter.acquire("c", LIMITS)
    assert decision.allowed and store.calls == 2 and limiter.available
    assert decision.reservation is not None
    assert await limiter.commit(decision.reservation, 0)
    store.down = True
    assert not await limiter.release(decision.reservation)  # failure noticed, logged
    assert limiter.store_errors == 2 and not limiter.available


async def test_wrapper_passes_through_and_skips_settling_while_down() -> None:
    """Up: every call reaches the store. Down: each call fails soft, and a failure
    opens the probe interval in which later calls do not reach the store."""
    clock = FakeClock()
    store = _Down(MemoryLimiter(clock, lease_seconds=30))
    limiter = ResilientLimiter(store, FailOpen(), clock=clock, probe_interval=1.0)
    store.down = False
    limits = [LimitSpec("key", "k1", "concurrency", 2)]
    first = (await limiter.acquire("a", limits)).reservation
    second = (await limiter.acquire("b", limits)).reservation
    assert first is not None and second is not None
    clock.advance(10)
    renewed = await limiter.renew(first)
    assert renewed is not None and renewed.lease_expires_at == first.lease_expires_at + 10
    assert [s.used for s in await limiter.peek(limits)] == [2]
    assert await limiter.release(second)

    store.down = True
    for operation in (
        limiter.commit(renewed, 0),
        limiter.release(renewed),
        limiter.renew(renewed),
        limiter.peek(limits),
    ):
        calls = store.calls
        result = await operation
        assert result in (False, renewed, ())
        assert store.calls == calls + 1 and not limiter.available
        assert not await limiter.commit(renewed, 0)  # skipped: inside the probe interval
        assert store.calls == calls + 1
        clock.advance(1.0)
    assert limiter.store_errors == 4
    await limiter.aclose()
