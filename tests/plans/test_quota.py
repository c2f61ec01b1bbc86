"""Plan quotas on the limiter engine, on the in-process and Redis backends alike.

Time moves with a `FakeClock`: the memory backend reads it, the Redis backend adds
its offset to Redis TIME (see tests/limits/conftest.py), so 5-hour and weekly
windows are crossed without sleeping; a few real milliseconds still pass under
Redis, hence `rig.tolerance` on the times it reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tokenward.clock import FakeClock
from tokenward.errors import InvalidRequest, LimiterUnavailable, RateLimited
from tokenward.limits import (
    FailClosed,
    FailOpen,
    LimiterBackend,
    MemoryLimiter,
    RedisLimiter,
    ResilientLimiter,
)
from tokenward.plans.quota import QuotaEngine, QuotaExceeded, QuotaHold, QuotaPlan
from tokenward.plans.quota_rules import QuotaWeights, parse_quota, parse_weights

from ..conftest import free_port
from ..limits.conftest import redis_opener

pytestmark = pytest.mark.anyio

HOUR = 3600
LEASE = 600.0
PEAK = {"start": "14:00", "end": "18:00", "timezone": "Asia/Shanghai", "multiplier": "3"}
#: 08:00 in Shanghai: off-peak; 15:00 in Shanghai: peak
OFF_PEAK_AT = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
PEAK_AT = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)


@dataclass
class Rig:
    kind: str
    clock: FakeClock
    engine: QuotaEngine

    @property
    def tolerance(self) -> float:
        return 0.0 if self.kind == "memory" else 0.25

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def admit(
        self, plan: QuotaPlan, tokens: int = 0, model: str = "m", at: datetime | None = None
    ) -> QuotaHold:
        return await self.engine.admit(plan, "req", model, at or self.clock.now(), tokens)

    async def admits(self, plan: QuotaPlan, tokens: int = 0, at: datetime | None = None) -> bool:
        try:
            await self.admit(plan, tokens, at=at)
        except QuotaExceeded:
            return False
        return True

    async def refusal(self, plan: QuotaPlan, tokens: int = 0) -> QuotaExceeded:
        with pytest.raises(QuotaExceeded) as caught:
            await self.admit(plan, tokens)
        return caught.value

    async def used(self, plan: QuotaPlan) -> list[int]:
        return [row["used"] for row in await self.engine.peek(plan)]


@pytest.fixture(params=["memory", "redis"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    clock = FakeClock(OFF_PEAK_AT)
    backend: LimiterBackend
    if request.param == "memory":
        backend = MemoryLimiter(clock, lease_seconds=LEASE)
    else:
        url: str = request.getfixturevalue("redis_url")
        backend = redis_opener(url, clock, lease_seconds=LEASE)()
    try:
        yield Rig(request.param, clock, QuotaEngine(backend))
    finally:
        await backend.aclose()


def plan_of(*quotas: dict[str, Any], sub: str = "sub_1", **options: Any) -> QuotaPlan:
    return QuotaPlan(sub, "pro", tuple(parse_quota(q) for q in quotas), **options)


async def test_rolling_5h_quota_refuses_with_the_exact_retry_after(rig: Rig) -> None:
    """10 requests per 5h: 4 at t = 0, 6 at t = 2h; the window edge frees the first 4."""
    plan = plan_of({"window": "5h", "unit": "requests", "limit": 10})
    assert [await rig.admits(plan) for _ in range(4)] == [True] * 4
    rig.advance(2 * HOUR)
    assert [await rig.admits(plan) for _ in range(7)] == [True] * 6 + [False]
    rig.advance(3 * HOUR - 60)  # t = 4h59m: the first 4 free in 60 s
    refused = await rig.refusal(plan)
    assert isinstance(refused, RateLimited) and refused.status == 429
    assert refused.retry_after == pytest.approx(60, abs=rig.tolerance)
    assert refused.message == (
        "quota of plan pro exhausted: 10 requests per 5h (sliding); retry in 60 s"
    )
    assert refused.plan == "pro" and refused.quota == "10 requests per 5h (sliding)"
    rig.advance(61)  # t = 5h + 1 s
    assert [await rig.admits(plan) for _ in range(5)] == [True] * 4 + [False]
    refused = await rig.refusal(plan)
    assert refused.retry_after == pytest.approx(2 * HOUR - 1, abs=rig.tolerance)
    assert await rig.used(plan) == [10]


async def test_no_5h_span_ever_holds_more_than_the_quota(rig: Rig) -> None:
    """Irregular traffic over 20 hours: every admitted request sees at most N in its 5h,
    and every refused one exactly N (nothing is lost to a bucket boundary)."""
    n, window = 6, 5 * HOUR
    plan = plan_of({"window": "5h", "unit": "requests", "limit": n})
    gaps = [0, 0, 1170, 0, 3333, 601, 0, 0, 2047]
    t, admitted, refused = 0, list[int](), list[int]()
    for i in range(60):
        rig.advance(gaps[i % len(gaps)])
        t += gaps[i % len(gaps)]
        if await rig.admits(plan):
            admitted.append(t)
        else:
            refused.append(t)
    assert len(refused) > 5 and len(admitted) > 2 * n

    def in_window(at: int) -> int:
        return sum(1 for a in admitted if at - window < a <= at)

    assert all(in_window(a) <= n for a in admitted)
    assert all(in_window(r) == n for r in refused)


async def test_session_starts_at_the_first_request(rig: Rig) -> None:
    """A 1-hour session of 3 requests starting at 00:20:34, not at a clock boundary."""
    plan = plan_of({"window": 3600, "kind": "session", "unit": "requests", "limit": 3})
    rig.advance(1234)
    assert await rig.admits(plan)
    rig.advance(600)
    assert [await rig.admits(plan) for _ in range(3)] == [True, True, False]
    refused = await rig.refusal(plan)
    assert refused.retry_after == pytest.approx(3000, abs=rig.tolerance)
    assert "3 requests per 3600 s (session)" in refused.message
    (row,) = await rig.engine.peek(plan)
    assert row["used"] == 3 and row["remaining"] == 0
    assert row["reset_after"] == pytest.approx(3000, abs=rig.tolerance)
    rig.advance(3000.5)  # the session ended half a second ago: a new one starts
    assert [await rig.admits(plan) for _ in range(4)] == [True] * 3 + [False]
    (row,) = await rig.engine.peek(plan)
    assert row["reset_after"] == pytest.approx(3600, abs=rig.tolerance)


async def test_5h_and_weekly_quotas_both_hold(rig: Rig) -> None:
    """The weekly quota refuses even when the 5-hour one has room."""
    plan = plan_of(
        {"window": "5h", "unit": "requests", "limit": 3},
        {"window": "week", "unit": "requests", "limit": 5},
    )
    assert [await rig.admits(plan) for _ in range(4)] == [True] * 3 + [False]
    assert (await rig.refusal(plan)).quota == "3 requests per 5h (sliding)"
    rig.advance(5 * HOUR + 1)
    assert [await rig.admits(plan) for _ in range(2)] == [True, True]
    refused = await rig.refusal(plan)
    assert refused.quota == "5 requests per week (sliding)"
    assert refused.retry_after == pytest.approx(604_800 - 5 * HOUR - 1, abs=rig.tolerance)
    assert await rig.used(plan) == [2, 5]  # the refused request reserved nothing


async def test_peak_hours_weigh_three_times(rig: Rig) -> None:
    """14:00-18:00 Shanghai at 3x: a day's 12 requests last 4 requests at peak; tokens too."""
    weights = parse_weights({"times": [PEAK]})
    quota = {"window": "day", "unit": "requests", "limit": 12}
    off_peak = plan_of(quota, sub="sub_off", weights=weights)
    peak = plan_of(quota, sub="sub_peak", weights=weights)
    assert sum([await rig.admits(off_peak, at=OFF_PEAK_AT) for _ in range(13)]) == 12
    assert sum([await rig.admits(peak, at=PEAK_AT) for _ in range(13)]) == 4
    assert await rig.used(peak) == [12]
    tokens = plan_of(
        {"window": "day", "unit": "tokens", "limit": 3000}, sub="sub_t", weights=weights
    )
    assert [await rig.admits(tokens, 250, at=PEAK_AT) for _ in range(5)] == [True] * 4 + [False]
    assert await rig.used(tokens) == [3000]


async def test_tokens_true_up_and_release(rig: Rig) -> None:
    """Weight 2: the estimate counts double until commit replaces it by the weighted actual."""
    weights = parse_weights({"models": {"big-*": "2"}})
    plan = plan_of(
        {"window": "day", "unit": "tokens", "limit": 1000},
        {"window": "5h", "kind": "session", "unit": "tokens", "limit": 800},
        {"window": "5h", "unit": "requests", "limit": 10},
        weights=weights,
    )
    first = await rig.admit(plan, 300, model="big-1")
    assert await rig.used(plan) == [600, 600, 2]
    await rig.engine.commit(first, 101)  # ceil(101 * 2) = 202
    assert await rig.used(plan) == [202, 202, 2]
    second = await rig.admit(plan, 299, model="big-1")
    assert await rig.used(plan) == [800, 800, 4]
    assert not await rig.admits(plan, 1)  # the session's 800 is full
    await rig.engine.release(second)
    assert await rig.used(plan) == [202, 202, 4]  # tokens back; the request counts
    small = await rig.admit(plan, 7, model="small")
    await rig.engine.commit(small, 5)
    assert await rig.used(plan) == [207, 207, 5]


async def test_a_request_larger_than_the_quota(rig: Rig) -> None:
    plan = plan_of({"window": "day", "unit": "tokens", "limit": 1000})
    refused = await rig.refusal(plan, 1001)
    assert refused.message == (
        "request is larger than the quota of plan pro: 1000 tokens per day (sliding)"
    )
    assert refused.retry_after == 86_400
    assert await rig.used(plan) == [0]


async def test_concurrency_and_peek_rows(rig: Rig) -> None:
    plan = plan_of({"window": "5h", "unit": "requests", "limit": 5}, concurrency=1)
    hold = await rig.admit(plan)
    refused = await rig.refusal(plan)
    assert refused.quota == "1 requests in flight" and refused.retry_after <= 1
    rows = await rig.engine.peek(plan)
    assert [(r["kind"], r["unit"], r["limit"], r["used"], r["remaining"]) for r in rows] == [
        ("sliding", "requests", 5, 1, 4),
        ("concurrency", "requests", 1, 1, 0),
    ]
    assert rows[0]["window"] == "5h" and rows[0]["quota"] == "5 requests per 5h (sliding)"
    rig.advance(LEASE - 10)
    renewed = await rig.engine.renew(hold)  # a long stream keeps its slot
    assert renewed is not None
    rig.advance(20)  # past the first lease
    assert not await rig.admits(plan)
    await rig.engine.commit(renewed, 0)
    assert await rig.admits(plan)


async def test_limiter_unavailable_passes_through() -> None:
    """A store outage is never "quota exceeded": the caller's policy decides."""
    dead = RedisLimiter.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    plan = plan_of({"window": "5h", "unit": "requests", "limit": 5})
    try:
        with pytest.raises(LimiterUnavailable):
            await QuotaEngine(dead).admit(plan, "r", "m", OFF_PEAK_AT, 0)
        closed = QuotaEngine(ResilientLimiter(dead, FailClosed()))
        with pytest.raises(LimiterUnavailable) as caught:
            await closed.admit(plan, "r", "m", OFF_PEAK_AT, 0)
        assert not isinstance(caught.value, QuotaExceeded)
        opened = QuotaEngine(ResilientLimiter(dead, FailOpen()))
        hold = await opened.admit(plan, "r", "m", OFF_PEAK_AT, 0)
        assert hold.reservation.unenforced
        await opened.commit(hold, 10)
        await opened.release(hold)
    finally:
        await dead.aclose()


def test_plan_validation() -> None:
    with pytest.raises(InvalidRequest, match="two quotas on the same window"):
        plan_of(
            {"window": "5h", "unit": "requests", "limit": 5},
            {"window": 18_000, "unit": "requests", "limit": 9},
        )
    # a session and a sliding quota over the same window are different limits
    plan_of(
        {"window": "5h", "unit": "requests", "limit": 5},
        {"window": "5h", "kind": "session", "unit": "requests", "limit": 5},
    )
    with pytest.raises(InvalidRequest, match="invalid subscription id"):
        plan_of({"window": "5h", "unit": "requests", "limit": 5}, sub="has space")
    assert plan_of({"window": "day", "unit": "tokens", "limit": 1}).weights == QuotaWeights()


async def test_session_on_redis_time_without_any_offset(redis_url: str) -> None:
    """Real time, Redis TIME alone: a 1-second session of 2 requests resets on its own."""
    backend = RedisLimiter.from_url(redis_url, prefix=f"q{free_port()}", timeout=2.0)
    engine = QuotaEngine(backend)
    plan = plan_of({"window": 1, "kind": "session", "unit": "requests", "limit": 2})
    try:
        for _ in range(2):
            await engine.admit(plan, "r", "m", OFF_PEAK_AT, 0)
        with pytest.raises(QuotaExceeded) as caught:
            await engine.admit(plan, "r", "m", OFF_PEAK_AT, 0)
        assert 0 < caught.value.retry_after <= 1
        await asyncio.sleep(caught.value.retry_after + 0.05)
        await engine.admit(plan, "r", "m", OFF_PEAK_AT, 0)
        assert [r["used"] for r in await engine.peek(plan)] == [1]
    finally:
        await backend.aclose()
