"""The limiter contract: every test runs unchanged on the in-process and Redis backends."""

from __future__ import annotations

import asyncio

import pytest

from tokenward.errors import InvalidRequest
from tokenward.limits import LimiterBackend, LimitSpec, LimitState, Reservation

from .conftest import LEASE, Harness

pytestmark = pytest.mark.anyio


def rpm(limit: int, scope_id: str = "k1", window: int = 60) -> LimitSpec:
    return LimitSpec("key", scope_id, "requests", limit, window=window)


def tpm(limit: int, scope_id: str = "k1", window: int = 60) -> LimitSpec:
    return LimitSpec("key", scope_id, "tokens", limit, window=window)


def conc(limit: int, scope_id: str = "k1") -> LimitSpec:
    return LimitSpec("key", scope_id, "concurrency", limit)


def used(states: tuple[LimitState, ...]) -> list[int]:
    return [s.used for s in states]


async def admitted(limiter: LimiterBackend, limits: list[LimitSpec], tokens: int = 0) -> bool:
    return (await limiter.acquire("req", limits, {"tokens": tokens})).allowed


def held(reservation: Reservation | None) -> Reservation:
    assert reservation is not None
    return reservation


async def test_exactly_limit_admitted_then_window_slides(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Of 11 requests in one window exactly L=5 pass; each frees as its entry turns 60 s old."""
    limits = [rpm(5)]
    decisions = []
    for _ in range(11):
        decisions.append(await limiter.acquire("req", limits))
        harness.advance(1)  # t = 0 .. 10
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 6
    assert decisions[-1].states[0].remaining == 0
    harness.advance(49.5)  # t = 60.5: the entry of t = 0 has left the window
    assert [await admitted(limiter, limits) for _ in range(2)] == [True, False]
    harness.advance(1)  # t = 61.5: the entry of t = 1 too
    assert [await admitted(limiter, limits) for _ in range(2)] == [True, False]
    harness.advance(60)  # everything of the first minute is gone
    assert [await admitted(limiter, limits) for _ in range(6)] == [True] * 5 + [False]


async def test_rejected_requests_consume_nothing(harness: Harness, limiter: LimiterBackend) -> None:
    """R-LIM-6: B, denied by concurrency, leaves every counter as it was; C passes after A."""
    limits = [rpm(2), tpm(1000), conc(1)]
    a = await limiter.acquire("A", limits, {"tokens": 300})
    assert a.allowed
    before = used(await limiter.peek(limits))
    b = await limiter.acquire("B", limits, {"tokens": 300})
    assert not b.allowed and b.denied_by == conc(1) and b.reason == "limit_exceeded"
    assert used(b.states) == before == used(await limiter.peek(limits)) == [1, 300, 1]
    assert await limiter.commit(held(a.reservation), 250)
    c = await limiter.acquire("C", limits, {"tokens": 300})
    assert c.allowed and used(c.states) == [2, 550, 1]


async def test_all_or_nothing_across_limits(harness: Harness, limiter: LimiterBackend) -> None:
    """A request refused by one limit (here the account's tokens) reserves on none of them."""
    limits = [rpm(10), LimitSpec("account", "acme", "tokens", 1000, window=60), conc(5, "m")]
    assert await admitted(limiter, limits, tokens=800)
    before = used(await limiter.peek(limits))
    denied = await limiter.acquire("big", limits, {"tokens": 300})
    assert not denied.allowed and denied.denied_by == limits[1]
    assert used(await limiter.peek(limits)) == before == [1, 800, 1]
    # another key of the same account is refused by the shared account limit too
    other = [rpm(10, "k2"), limits[1]]
    assert not await admitted(limiter, other, tokens=300)
    assert used(await limiter.peek([rpm(10, "k2")])) == [0]
    assert await admitted(limiter, other, tokens=200)


async def test_denied_by_names_the_limit_that_frees_last(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """With two full windows, retry_after is the later of the two, and that limit is named."""
    per_minute, per_day = rpm(1), LimitSpec("key", "k1", "requests", 2, window=86_400)
    limits = [per_minute, per_day]
    assert await admitted(limiter, limits)
    harness.advance(100)
    assert await admitted(limiter, limits)
    harness.advance(10)
    denied = await limiter.acquire("req", limits)
    assert denied.denied_by == per_day
    assert denied.retry_after == pytest.approx(86_400 - 110, abs=harness.tolerance)


async def test_retry_after_is_when_capacity_frees(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Retry-After is the time until enough old entries leave the window, and it is enough."""
    limits = [rpm(10), tpm(1000)]
    for tokens in (400, 300, 200):  # at t = 0, 10, 20
        assert await admitted(limiter, limits, tokens)
        harness.advance(10)
    small = await limiter.acquire("req", limits, {"tokens": 500})  # t = 30, needs 400 freed
    big = await limiter.acquire("req", limits, {"tokens": 700})  # needs 600: two entries
    assert small.denied_by == big.denied_by == tpm(1000)
    assert small.retry_after == pytest.approx(30, abs=harness.tolerance)
    assert big.retry_after == pytest.approx(40, abs=harness.tolerance)
    harness.advance(small.retry_after - 0.5)
    assert not await admitted(limiter, limits, 500)
    harness.advance(0.6)
    assert await admitted(limiter, limits, 500)


async def test_request_larger_than_the_limit_never_fits(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """A token estimate above the limit is refused for that reason, and reserves nothing."""
    limits = [rpm(10), tpm(1000)]
    decision = await limiter.acquire("req", limits, {"tokens": 1001})
    assert not decision.allowed and decision.reason == "request_exceeds_limit"
    assert decision.denied_by == tpm(1000) and decision.retry_after == 60
    assert "larger than the limit" in decision.error().message
    assert used(await limiter.peek(limits)) == [0, 0]


async def test_tokens_reserve_commit_release(harness: Harness, limiter: LimiterBackend) -> None:
    """The estimate counts while in flight; commit trues up; release returns tokens and slot."""
    limits = [rpm(10), tpm(1000), conc(2)]
    first = await limiter.acquire("a", limits, {"tokens": 600})
    assert first.allowed and used(first.states) == [1, 600, 1]
    assert first.states[1].remaining == 400
    assert not await admitted(limiter, limits, 500)  # 600 + 500 > 1000
    assert await limiter.commit(held(first.reservation), 150)
    assert used(await limiter.peek(limits)) == [1, 150, 0]
    second = await limiter.acquire("b", limits, {"tokens": 850})
    assert second.allowed and used(second.states) == [2, 1000, 1]
    assert await limiter.release(held(second.reservation))
    # the failed request still counts as a request; its tokens and slot are back
    assert used(await limiter.peek(limits)) == [2, 150, 0]


async def test_settling_twice_does_nothing(harness: Harness, limiter: LimiterBackend) -> None:
    """Commit and release apply once; a late release cannot undo a commit's tokens."""
    limits = [tpm(1000), conc(1)]
    decision = await limiter.acquire("a", limits, {"tokens": 500})
    reservation = held(decision.reservation)
    assert await limiter.commit(reservation, 400)
    assert not await limiter.commit(reservation, 100)
    assert not await limiter.release(reservation)
    assert await limiter.renew(reservation) is None
    assert used(await limiter.peek(limits)) == [400, 0]


async def test_true_up_above_the_estimate(harness: Harness, limiter: LimiterBackend) -> None:
    """Actual usage over the estimate is counted in full; remaining shows 0, never negative."""
    limits = [tpm(1000)]
    decision = await limiter.acquire("a", limits, {"tokens": 100})
    assert await limiter.commit(held(decision.reservation), 1200)
    (state,) = await limiter.peek(limits)
    assert state.used == 1200 and state.remaining == 0
    assert not await admitted(limiter, limits, 0)
    harness.advance(60)
    assert await admitted(limiter, limits, 1000)


async def test_concurrency_slots(harness: Harness, limiter: LimiterBackend) -> None:
    """C slots at most; a finished request frees its slot at once; Retry-After is short."""
    limits = [conc(2)]
    a, b = [await limiter.acquire(r, limits) for r in "ab"]
    assert a.allowed and b.allowed
    third = await limiter.acquire("c", limits)
    assert not third.allowed and third.denied_by == conc(2)
    assert 0 < third.retry_after <= 1.0
    assert await limiter.commit(held(a.reservation), 0)
    assert await admitted(limiter, limits)
    assert not await admitted(limiter, limits)


async def test_lease_expiry_frees_slots_of_a_crashed_request(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Acquired, never settled (replica killed): the slot frees after the lease; its
    tokens stay counted at the estimate until the window slides."""
    limits = [tpm(1000), conc(1)]
    crashed = await limiter.acquire("crashed", limits, {"tokens": 300})
    assert crashed.allowed
    assert crashed.reservation is not None and crashed.reservation.lease_expires_at > 0
    harness.advance(LEASE - 1)
    assert not await admitted(limiter, limits, 100)
    harness.advance(1.5)
    after = await limiter.acquire("next", limits, {"tokens": 100})
    assert after.allowed and used(after.states) == [400, 1]
    # the crashed request's late commit is refused: its lease is gone
    assert not await limiter.commit(held(crashed.reservation), 10)
    assert used(await limiter.peek(limits)) == [400, 1]


async def test_renew_keeps_a_long_stream_alive(harness: Harness, limiter: LimiterBackend) -> None:
    """Renewing before expiry keeps the slot past the first lease; then it expires too."""
    limits = [conc(1)]
    reservation = held((await limiter.acquire("stream", limits)).reservation)
    harness.advance(LEASE - 5)
    renewed = await limiter.renew(reservation)
    assert renewed is not None
    assert renewed.lease_expires_at == pytest.approx(
        reservation.lease_expires_at + LEASE - 5, abs=harness.tolerance
    )
    harness.advance(10)  # past the first lease, inside the renewed one
    assert not await admitted(limiter, limits)
    harness.advance(LEASE)
    assert await limiter.renew(renewed) is None
    assert await admitted(limiter, limits)


async def test_peek_of_unused_limits(harness: Harness, limiter: LimiterBackend) -> None:
    """An untouched limit reports full capacity and nothing to reset."""
    states = await limiter.peek([rpm(7), tpm(70), conc(3)])
    assert [(s.used, s.remaining, s.reset_after) for s in states] == [
        (0, 7, 0),
        (0, 70, 0),
        (0, 3, 0),
    ]


async def test_reset_after_reports_when_usage_drains(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """x-ratelimit-reset-*: the time until the newest entry leaves the window."""
    limits = [rpm(10)]
    assert await admitted(limiter, limits)
    harness.advance(20)
    assert await admitted(limiter, limits)
    harness.advance(5)
    (state,) = await limiter.peek(limits)
    assert state.used == 2
    assert state.reset_after == pytest.approx(55, abs=harness.tolerance)


async def test_bad_amounts_are_refused(harness: Harness, limiter: LimiterBackend) -> None:
    """Clear errors for a missing estimate, a duplicate limit or an impossible amount."""
    cases: list[tuple[list[LimitSpec], dict[str, int] | None, str]] = [
        ([tpm(10)], None, "needs a tokens amount"),
        ([rpm(10), rpm(10)], None, "listed twice"),
        ([tpm(10)], {"tokens": -1}, "whole number >= 0"),
        ([conc(3)], {"concurrency": 2}, "exactly one concurrency slot"),
        ([rpm(10)], {"bytes": 1}, "unknown metric"),
    ]
    for limits, amounts, message in cases:
        with pytest.raises(InvalidRequest, match=message):
            await limiter.acquire("req", limits, amounts)
    with pytest.raises(InvalidRequest, match="request id"):
        await limiter.acquire("", [rpm(1)])
    decision = await limiter.acquire("req", [tpm(10)], {"tokens": 1})
    with pytest.raises(InvalidRequest, match="actual tokens"):
        await limiter.commit(held(decision.reservation), -5)


async def test_two_replicas_200_concurrent_admit_exactly_100(harness: Harness) -> None:
    """Two handles (two Redis clients: two replicas) race 200 acquires for 100 slots."""
    replicas = [harness.open(), harness.open()]
    limits = [rpm(100), tpm(100_000), conc(150)]
    decisions = await asyncio.gather(
        *(replicas[i % 2].acquire(f"r{i}", limits, {"tokens": 10}) for i in range(200))
    )
    assert sum(d.allowed for d in decisions) == 100
    assert all(d.denied_by == rpm(100) for d in decisions if not d.allowed)
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)
    assert used(await replicas[0].peek(limits)) == [100, 1000, 100]
    reservations = [held(d.reservation) for d in decisions if d.allowed]
    settled = await asyncio.gather(*(replicas[1].commit(r, 5) for r in reservations))
    assert all(settled)
    assert used(await replicas[1].peek(limits)) == [100, 500, 0]


async def test_unenforced_reservations_hold_nothing(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """A fail-open reservation reaching a store backend settles nothing."""
    ghost = Reservation("ghost~1", (), 0.0, unenforced=True)
    assert not await limiter.commit(ghost, 5)
    assert not await limiter.release(ghost)
    assert await limiter.renew(ghost) is None


# -- session windows (plan quotas): a session starts at the first admitted request


def srq(limit: int, window: int = 100, scope_id: str = "s1") -> LimitSpec:
    return LimitSpec("subscription", scope_id, "requests", limit, window=window, session=True)


def stok(limit: int, window: int = 100, scope_id: str = "s1") -> LimitSpec:
    return LimitSpec("subscription", scope_id, "tokens", limit, window=window, session=True)


async def test_session_starts_at_the_first_request_and_resets_a_window_later(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Not aligned to any clock boundary: the session runs from t = 37 to t = 137."""
    limits = [srq(3)]
    harness.advance(37)
    first = await limiter.acquire("req", limits)
    assert first.allowed and first.states[0].reset_after == pytest.approx(
        100, abs=harness.tolerance
    )
    harness.advance(10)
    assert [await admitted(limiter, limits) for _ in range(2)] == [True, True]
    harness.advance(40)  # t = 87: full, the session ends at 137
    denied = await limiter.acquire("req", limits)
    assert not denied.allowed and denied.reason == "limit_exceeded"
    assert denied.denied_by == srq(3)
    assert denied.retry_after == pytest.approx(50, abs=harness.tolerance)
    assert denied.states[0].reset_after == pytest.approx(50, abs=harness.tolerance)
    harness.advance(49.5)  # t = 136.5: still the first session
    assert not await admitted(limiter, limits)
    harness.advance(1)  # t = 137.5: a new session, from here to 237.5
    renewed = await limiter.acquire("req", limits)
    assert renewed.allowed and used(renewed.states) == [1]
    assert renewed.states[0].reset_after == pytest.approx(100, abs=harness.tolerance)
    harness.advance(99)  # t = 236.5: unlike a sliding window, nothing freed in between
    assert [await admitted(limiter, limits) for _ in range(3)] == [True, True, False]


async def test_a_denied_request_starts_no_session(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Too large alone, or refused by another limit: no session begins, nothing counts."""
    limits = [stok(1000)]
    too_big = await limiter.acquire("big", limits, {"tokens": 1001})
    assert not too_big.allowed and too_big.reason == "request_exceeds_limit"
    assert too_big.retry_after == 100
    other = [rpm(1), srq(5)]
    assert await admitted(limiter, [rpm(1)])
    assert not await admitted(limiter, other)  # the sliding rpm refuses
    assert [(s.used, s.reset_after) for s in await limiter.peek([stok(1000), srq(5)])] == [
        (0, 0),
        (0, 0),
    ]
    harness.advance(30)
    started = await limiter.acquire("req", limits, {"tokens": 10})
    assert started.allowed
    assert started.states[0].reset_after == pytest.approx(100, abs=harness.tolerance)


async def test_session_tokens_commit_and_release(harness: Harness, limiter: LimiterBackend) -> None:
    """True-up and release adjust the current session; requests stay counted."""
    limits = [srq(10), stok(1000)]
    first = await limiter.acquire("a", limits, {"tokens": 600})
    assert first.allowed and used(first.states) == [1, 600]
    assert not await admitted(limiter, limits, 500)
    assert await limiter.commit(held(first.reservation), 150)
    assert used(await limiter.peek(limits)) == [1, 150]
    second = await limiter.acquire("b", limits, {"tokens": 850})
    assert second.allowed and used(second.states) == [2, 1000]
    assert await limiter.release(held(second.reservation))
    assert used(await limiter.peek(limits)) == [2, 150]


async def test_settling_after_the_session_ended_leaves_the_new_one_alone(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """A reservation of an ended session (lease still alive) cannot move the next session."""
    limits = [stok(1000, window=20)]
    old = await limiter.acquire("old", limits, {"tokens": 600})
    old_too = await limiter.acquire("old2", limits, {"tokens": 100})
    harness.advance(21)  # the session ended; the leases (30 s) have not
    new = await limiter.acquire("new", limits, {"tokens": 100})
    assert new.allowed and used(new.states) == [100]
    assert await limiter.commit(held(old.reservation), 900)
    assert await limiter.release(held(old_too.reservation))
    assert used(await limiter.peek(limits)) == [100]


async def test_session_and_sliding_limits_never_share_state(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """Same scope, metric and window: the session flag alone makes a different limit."""
    sliding = LimitSpec("subscription", "s1", "requests", 2, window=100)
    session = srq(2)
    assert sliding.key != session.key
    assert await admitted(limiter, [sliding])
    assert await admitted(limiter, [sliding])
    assert not await admitted(limiter, [sliding])
    assert [await admitted(limiter, [session]) for _ in range(3)] == [True, True, False]
    harness.advance(60)
    assert used(await limiter.peek([sliding, session])) == [2, 2]


async def test_cancel_undoes_an_admission_entirely(
    harness: Harness, limiter: LimiterBackend
) -> None:
    """A request admitted, then refused by a later stage (credit, plan), consumes nothing:
    its request, its tokens and its slot all return (R-LIM-6), in sliding and session
    windows alike; a second cancel, or a commit after it, does nothing."""
    limits = [rpm(1), tpm(1000), conc(1), srq(1), stok(1000)]
    first = await limiter.acquire("a", limits, {"tokens": 600})
    assert first.allowed and used(first.states) == [1, 600, 1, 1, 600]
    assert not await admitted(limiter, limits, 100)  # every window is full now
    reservation = held(first.reservation)
    assert await limiter.cancel(reservation)
    assert used(await limiter.peek(limits)) == [0, 0, 0, 0, 0]
    assert not await limiter.cancel(reservation)
    assert not await limiter.commit(reservation, 10)
    again = await limiter.acquire("b", limits, {"tokens": 1000})
    assert again.allowed and used(again.states) == [1, 1000, 1, 1, 1000]
