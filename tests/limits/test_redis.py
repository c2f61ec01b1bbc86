"""What only the Redis backend has to show: server time, key hygiene, replicas' clocks."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from tokenward.limits import LimitSpec, RedisLimiter

pytestmark = pytest.mark.anyio


async def test_window_runs_on_redis_time_without_any_offset(redis_url: str) -> None:
    """A real 1 s window: two admitted, the third told when, and admitted after waiting."""
    limiter = RedisLimiter.from_url(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}", timeout=1.0)
    limits = [LimitSpec("key", "k", "requests", 2, window=1)]
    try:
        decisions = [await limiter.acquire("r", limits) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        wait = decisions[2].retry_after
        assert 0.5 < wait <= 1.0
        await asyncio.sleep(wait + 0.02)
        assert (await limiter.acquire("r", limits)).allowed
    finally:
        await limiter.aclose()


async def test_every_key_is_namespaced_and_expires(redis_url: str) -> None:
    """Nothing lives forever: each key carries a TTL just over its longest-lived entry."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    limiter = RedisLimiter.from_url(redis_url, prefix=prefix, lease_seconds=20, timeout=1.0)
    limits = [
        LimitSpec("key", "k", "requests", 5, window=60),
        LimitSpec("plan", "pro", "tokens", 500, window=86_400),
        LimitSpec("model", "gpt-x", "concurrency", 2),
    ]
    client = Redis.from_url(redis_url)
    try:
        decision = await limiter.acquire("r", limits, {"tokens": 50})
        assert decision.reservation is not None
        ttls = {}
        async for key in client.scan_iter(match=f"{prefix}:*"):
            ttls[key.decode()] = await client.pttl(key)
        assert set(ttls) == {
            *(f"{prefix}:key:k:requests:60:{s}" for s in "zas"),
            *(f"{prefix}:plan:pro:tokens:86400:{s}" for s in "zas"),
            f"{prefix}:model:gpt-x:concurrency:-:z",
            f"{prefix}:res:{decision.reservation.id}",
        }
        for key, ttl in ttls.items():
            longest = 86_400 if ":86400:" in key else 60 if ":60:" in key else 20
            assert longest * 1000 < ttl <= (longest + 1) * 1000, key
    finally:
        await client.aclose()
        await limiter.aclose()


async def test_replica_clocks_do_not_matter(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-LIM-5 in miniature: wall clocks jumping ±30 s change nothing, since only Redis
    TIME is read (a process-level test with `faketime` belongs to the integration suite)."""
    real_time = time.time
    calls = iter(range(10**9))
    monkeypatch.setattr(time, "time", lambda: real_time() + (30 if next(calls) % 2 else -30))
    monkeypatch.setattr(time, "time_ns", lambda: int(time.time() * 1e9))
    prefix = f"t{uuid.uuid4().hex[:8]}"
    replicas = [RedisLimiter.from_url(redis_url, prefix=prefix, timeout=2.0) for _ in range(2)]
    limits = [LimitSpec("key", "k", "requests", 100, window=60)]
    try:
        decisions = await asyncio.gather(
            *(replicas[i % 2].acquire(f"r{i}", limits) for i in range(200))
        )
        assert sum(d.allowed for d in decisions) == 100
    finally:
        for replica in replicas:
            await replica.aclose()
