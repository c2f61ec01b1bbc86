"""Admission: which limits a request acquires, what it reserves, headers, true-up, leases."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from tokenward.auth import Principal
from tokenward.clock import FakeClock
from tokenward.config.schema import LimitsSettings
from tokenward.errors import LimiterUnavailable, RateLimited
from tokenward.limits import (
    UNLIMITED,
    Admission,
    Decision,
    FailClosed,
    FailOpen,
    FixedRules,
    LimiterBackend,
    LimitRule,
    LimitSpec,
    LimitState,
    MemoryLimiter,
    Reservation,
    ResilientLimiter,
    RuleBook,
)
from tokenward.observability import Metrics
from tokenward.proxy import RequestContext

pytestmark = pytest.mark.anyio

ALICE = Principal("acc_1", "acme", "key_a", "ci", "user")
BOB = Principal("acc_1", "acme", "key_b", "batch", "user")
SETTINGS = LimitsSettings(default_output_tokens=100)


class Spy:
    """A `LimiterBackend` wrapper that records which operations were called."""

    def __init__(self, inner: LimiterBackend) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        self.calls.append("acquire")
        self.last_amounts = dict(amounts or {})
        return await self.inner.acquire(request_id, limits, amounts)

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        self.calls.append("commit")
        return await self.inner.commit(reservation, actual_tokens)

    async def release(self, reservation: Reservation) -> bool:
        self.calls.append("release")
        return await self.inner.release(reservation)

    async def renew(self, reservation: Reservation) -> Reservation | None:
        self.calls.append("renew")
        return await self.inner.renew(reservation)

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        return await self.inner.peek(limits)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Down:
    """A store backend that is always unavailable."""

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        raise LimiterUnavailable("connection refused")

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        raise LimiterUnavailable("connection refused")

    async def release(self, reservation: Reservation) -> bool:
        raise LimiterUnavailable("connection refused")

    async def renew(self, reservation: Reservation) -> Reservation | None:
        raise LimiterUnavailable("connection refused")

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        raise LimiterUnavailable("connection refused")

    async def aclose(self) -> None:
        return None


def make_ctx(principal: Principal | None = ALICE, n: int = 0) -> RequestContext:
    clock = FakeClock()
    return RequestContext(
        request_id=f"req-{n}",
        route="chat.completions",
        started_at=clock.now(),
        started_mono=clock.monotonic(),
        principal=principal,
    )


def headers(ctx: RequestContext) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in ctx.response_headers}


def admission(
    rules: list[LimitRule],
    limiter: LimiterBackend | None = None,
    settings: LimitsSettings = SETTINGS,
    metrics: Metrics | None = None,
    renew_every: float | None = None,
) -> tuple[Admission, Spy]:
    spy = Spy(limiter or MemoryLimiter(FakeClock()))
    book = RuleBook(rules, settings)
    return (
        Admission(spy, FixedRules(book), settings, metrics or Metrics(), renew_every=renew_every),
        spy,
    )


async def test_a_request_no_rule_applies_to_never_reaches_the_limiter() -> None:
    adm, spy = admission([LimitRule("key", "key_other", rpm=1)])
    ctx = make_ctx()

    def never() -> int:
        raise AssertionError("no token limit: the prompt is not estimated")

    assert await adm.admit(ctx, "sim-small", never, None) is UNLIMITED
    assert spy.calls == [] and ctx.reservation is None
    assert "x-ratelimit-limit-requests" not in headers(ctx)
    async with adm.hold(ctx):
        pass
    assert spy.calls == []


async def test_requests_per_minute_admit_exactly_the_limit_with_headers() -> None:
    adm, _ = admission([LimitRule("key", "key_a", rpm=2)])
    first, second, third = make_ctx(n=1), make_ctx(n=2), make_ctx(n=3)
    await adm.admit(first, "sim-small", lambda: 10, None)
    await adm.admit(second, "sim-small", lambda: 10, None)
    assert headers(first)["x-ratelimit-remaining-requests"] == "1"
    assert headers(second)["x-ratelimit-remaining-requests"] == "0"
    assert headers(second)["x-ratelimit-limit-requests"] == "2"
    assert headers(second)["x-ratelimit-reset-requests"].endswith("s")
    assert first.reservation is not None
    with pytest.raises(RateLimited) as denied:
        await adm.admit(third, "sim-small", lambda: 10, None)
    assert "requests per 60 s for key key_a (limit 2)" in denied.value.message
    assert 0 < denied.value.retry_after <= 60
    assert headers(third)["x-ratelimit-remaining-requests"] == "0"
    assert third.reservation is None


async def test_tokens_reserved_are_the_estimate_plus_max_tokens_per_choice() -> None:
    adm, spy = admission([LimitRule("key", "key_a", tpm=10_000)])
    await adm.admit(make_ctx(n=1), "sim-small", lambda: 40, 200, 3)
    assert spy.last_amounts == {"tokens": 40 + 600}
    await adm.admit(make_ctx(n=2), "sim-small", lambda: 40, None)
    assert spy.last_amounts == {"tokens": 40 + SETTINGS.default_output_tokens}
    await adm.admit(make_ctx(n=3), "sim-embed", lambda: 40, 0)
    assert spy.last_amounts == {"tokens": 40}


async def test_a_denied_request_consumes_nothing() -> None:
    adm, _ = admission([LimitRule("key", "key_a", rpm=10, tpm=1_000)])
    await adm.admit(make_ctx(n=1), "m", lambda: 100, 100)
    with pytest.raises(RateLimited, match="larger than the limit"):
        await adm.admit(make_ctx(n=2), "m", lambda: 100, 5_000)
    after = make_ctx(n=3)
    await adm.admit(after, "m", lambda: 100, 100)
    assert headers(after)["x-ratelimit-remaining-requests"] == "8"
    assert headers(after)["x-ratelimit-remaining-tokens"] == str(1_000 - 400)


async def test_true_up_commits_the_actual_usage() -> None:
    adm, spy = admission([LimitRule("key", "key_a", tpm=1_000)])
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 100, 400)
    await adm.true_up(ctx, 120, failed=False)
    assert ctx.reservation is None and spy.calls == ["acquire", "commit"]
    nxt = make_ctx(n=2)
    await adm.admit(nxt, "m", lambda: 100, 400)
    assert headers(nxt)["x-ratelimit-remaining-tokens"] == str(1_000 - 120 - 500)


async def test_a_failure_without_usage_returns_the_tokens_but_counts_the_request() -> None:
    adm, spy = admission([LimitRule("key", "key_a", rpm=5, tpm=1_000)])
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 100, 400)
    await adm.true_up(ctx, 0, failed=True)
    assert spy.calls[-1] == "release"
    nxt = make_ctx(n=2)
    await adm.admit(nxt, "m", lambda: 100, 400)
    assert headers(nxt)["x-ratelimit-remaining-tokens"] == str(1_000 - 500)
    assert headers(nxt)["x-ratelimit-remaining-requests"] == "3"


async def test_hold_releases_a_reservation_left_unsettled_by_an_error() -> None:
    adm, spy = admission([LimitRule("key", "key_a", concurrency=1)])
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 1, None)
    with pytest.raises(RateLimited, match="concurrency in flight"):
        await adm.admit(make_ctx(n=2), "m", lambda: 1, None)
    with pytest.raises(RuntimeError):
        async with adm.hold(ctx):
            raise RuntimeError("upstream client bug")
    assert spy.calls[-1] == "release" and ctx.reservation is None
    await adm.admit(make_ctx(n=3), "m", lambda: 1, None)


async def test_hold_after_true_up_releases_nothing_more() -> None:
    adm, spy = admission([LimitRule("key", "key_a", concurrency=1)])
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 1, None)
    async with adm.hold(ctx):
        await adm.true_up(ctx, 10, failed=False)
    assert spy.calls == ["acquire", "commit"]


async def test_a_long_request_renews_its_lease_until_it_ends() -> None:
    adm, spy = admission([LimitRule("key", "key_a", concurrency=2)], renew_every=0.01)
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 1, None)
    async with adm.hold(ctx):
        await asyncio.sleep(0.055)
        await adm.true_up(ctx, 10, failed=False)
    renewals = spy.calls.count("renew")
    assert renewals >= 3
    await asyncio.sleep(0.03)
    assert spy.calls.count("renew") == renewals


async def test_renewal_stops_once_the_lease_is_lost() -> None:
    clock = FakeClock()
    adm, spy = admission(
        [LimitRule("key", "key_a", concurrency=2)],
        limiter=MemoryLimiter(clock, lease_seconds=5),
        renew_every=0.01,
    )
    ctx = make_ctx(n=1)
    await adm.admit(ctx, "m", lambda: 1, None)
    clock.advance(6)  # the lease ran out (a frozen loop, a paused process)
    async with adm.hold(ctx):
        await asyncio.sleep(0.05)
    assert spy.calls.count("renew") == 1
    assert spy.calls[-1] == "release"


async def test_the_default_lease_is_renewed_every_third_of_it() -> None:
    adm, _ = admission([], settings=replace(SETTINGS, lease_s=9.0))
    assert adm._renew_every == 3.0


async def test_key_account_and_model_rules_are_acquired_together() -> None:
    rules = [
        LimitRule("key", "key_a", rpm=100),
        LimitRule("key", "key_a", model="sim-large", rpm=1),
        LimitRule("account", "acc_1", rpm=3),
        LimitRule("model", "sim-small", tpd=10**9),
        LimitRule("account", "acc_2", rpm=1),
    ]
    book = RuleBook(rules, SETTINGS)
    assert [s.key for s in book.specs_for(ALICE, "sim-large")] == [
        "key:key_a:requests:60",
        "key:key_a@sim-large:requests:60",
        "account:acc_1:requests:60",
    ]
    assert [s.key for s in book.specs_for(ALICE, "sim-small")] == [
        "key:key_a:requests:60",
        "account:acc_1:requests:60",
        "model:sim-small:tokens:86400",
    ]
    adm, _ = admission(rules)
    await adm.admit(make_ctx(ALICE, 1), "sim-large", lambda: 1, None)
    with pytest.raises(RateLimited, match="key_a@sim-large"):
        await adm.admit(make_ctx(ALICE, 2), "sim-large", lambda: 1, None)
    # the account's 3/min is shared by its keys
    await adm.admit(make_ctx(BOB, 3), "sim-medium", lambda: 1, None)
    await adm.admit(make_ctx(BOB, 4), "sim-medium", lambda: 1, None)
    with pytest.raises(RateLimited, match="account acc_1"):
        await adm.admit(make_ctx(ALICE, 5), "sim-medium", lambda: 1, None)


def test_config_defaults_fill_what_a_key_rule_leaves_unset() -> None:
    defaults = LimitsSettings(default_key_rpm=60, default_key_concurrency=4)
    book = RuleBook([LimitRule("key", "key_a", rpm=5, tpm=900)], defaults)
    assert not book.empty
    assert {(s.metric, s.limit) for s in book.specs_for(ALICE, "m")} == {
        ("requests", 5),
        ("tokens", 900),
        ("concurrency", 4),
    }
    assert {(s.metric, s.limit) for s in book.specs_for(BOB, "m")} == {
        ("requests", 60),
        ("concurrency", 4),
    }
    assert RuleBook([], LimitsSettings()).empty


async def test_fail_open_admits_unenforced_and_counts_it() -> None:
    metrics = Metrics()
    limiter = ResilientLimiter(Down(), FailOpen(), clock=FakeClock())
    adm, spy = admission([LimitRule("key", "key_a", rpm=1)], limiter=limiter, metrics=metrics)
    ctx = make_ctx(n=1)
    decision = await adm.admit(ctx, "m", lambda: 1, None)
    assert decision.allowed and decision.reservation is not None
    assert decision.reservation.unenforced
    assert "x-ratelimit-limit-requests" not in headers(ctx)
    async with adm.hold(ctx):
        await adm.true_up(ctx, 5, failed=False)
    assert spy.calls == ["acquire"]
    rendered = metrics.render().decode()
    assert 'tokenward_limiter_decisions_total{result="fail_open"} 1.0' in rendered
    assert "tokenward_limiter_fail_open_total 1.0" in rendered


async def test_fail_closed_answers_limiter_unavailable() -> None:
    metrics = Metrics()
    limiter = ResilientLimiter(Down(), FailClosed(), clock=FakeClock())
    adm, _ = admission([LimitRule("key", "key_a", rpm=1)], limiter=limiter, metrics=metrics)
    with pytest.raises(LimiterUnavailable, match="limiter unavailable") as denied:
        await adm.admit(make_ctx(n=1), "m", lambda: 1, None)
    assert denied.value.status == 503 and denied.value.retry_after >= 1
    assert 'tokenward_limiter_decisions_total{result="fail_closed"} 1.0' in (
        metrics.render().decode()
    )


async def test_decisions_are_counted_by_result() -> None:
    metrics = Metrics()
    adm, _ = admission([LimitRule("key", "key_a", rpm=1)], metrics=metrics)
    await adm.admit(make_ctx(n=1), "m", lambda: 1, None)
    with pytest.raises(RateLimited):
        await adm.admit(make_ctx(n=2), "m", lambda: 1, None)
    rendered = metrics.render().decode()
    assert 'tokenward_limiter_decisions_total{result="admitted"} 1.0' in rendered
    assert 'tokenward_limiter_decisions_total{result="denied"} 1.0' in rendered
    assert "tokenward_limiter_store_errors_total 0.0" in rendered
    assert "tokenward_limiter_available 1.0" in rendered


async def test_admit_needs_an_authenticated_request() -> None:
    adm, _ = admission([])
    with pytest.raises(RuntimeError):
        await adm.admit(make_ctx(principal=None), "m", lambda: 1, None)
