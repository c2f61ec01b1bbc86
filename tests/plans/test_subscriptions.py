"""Subscriptions on SQLite and PostgreSQL: seats, waitlist, daily caps, fees, repricing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tokenward.clock import FakeClock
from tokenward.errors import Conflict, InvalidRequest, NotFound
from tokenward.plans import (
    cancel,
    create_plan,
    get_plan,
    promote_waitlist,
    renew_due,
    reprice_plan,
    subscribe,
    subscription_of,
    waitlist,
)
from tokenward.storage import Store

from .support import accounts, amount, fees


def pro(**extra: Any) -> dict[str, Any]:
    """The plan of the issue's example: $20 a month, -10% a quarter, -20% a year."""
    return {
        "name": "pro",
        "currency": "USD",
        "price": "20.00",
        "periods": {"month": "0", "quarter": "10", "year": "20"},
        "quotas": [{"window": "5h", "unit": "requests", "limit": 100}],
        **extra,
    }


def test_a_full_plan_waitlists_and_a_cancellation_promotes_in_order(
    store: Store, clock: FakeClock
) -> None:
    """The 4th subscriber of a 3-seat plan waits, uncharged, and gets the freed seat."""
    accounts(store, clock, "a", "b", "c", "d", "e")
    create_plan(store, pro(max_subscribers=3), clock=clock)
    for name in ("a", "b", "c"):
        assert subscribe(store, name, "pro", clock=clock).status == "active"
    clock.advance(60)
    fourth = subscribe(store, "d", "pro", clock=clock)
    assert (fourth.status, fourth.position, fourth.price) == ("waitlisted", 1, None)
    assert "full (3 of 3 seats taken)" in fourth.note
    assert subscribe(store, "e", "pro", clock=clock).position == 2
    assert len(fees(store)) == 3
    assert [s.account for s in waitlist(store, "pro")] == ["d", "e"]

    clock.advance(3600)
    result = cancel(store, "b", clock=clock)
    assert result.canceled.status == "canceled"
    assert [s.account for s in result.promoted] == ["d"]
    promoted = subscription_of(store, "d")
    assert promoted is not None and promoted.status == "active"
    assert promoted.period_start == clock.now()
    assert promoted.period_end == datetime(2026, 2, 15, 15, 1, tzinfo=UTC)
    fee = fees(store)[-1]
    assert fee["id"] == f"plan_fee:{promoted.id}:0" and fee["amount"] == amount("20")
    assert fee["at"] == clock.now()
    assert subscription_of(store, "b") is None
    assert [s.account for s in waitlist(store, "pro")] == ["e"]
    info = get_plan(store, "pro", clock=clock)
    assert (info.active, info.waitlisted) == (3, 1)


def test_a_daily_sales_cap_waitlists_until_the_next_utc_day(store: Store, clock: FakeClock) -> None:
    accounts(store, clock, "a", "b", "c")
    create_plan(store, pro(daily_sales_cap=2), clock=clock)
    subscribe(store, "a", "pro", clock=clock)
    subscribe(store, "b", "pro", clock=clock)
    third = subscribe(store, "c", "pro", clock=clock)
    assert third.status == "waitlisted" and "sold its 2 subscriptions for today" in third.note
    cancel(store, "a", clock=clock)  # a seat frees, but today's cap still holds
    assert promote_waitlist(store, clock) == []
    clock.advance(10 * 3600 - 1)  # 23:59:59 UTC
    assert promote_waitlist(store, clock) == []
    clock.advance(1)
    [promoted] = promote_waitlist(store, clock)
    assert (promoted.account, promoted.status) == ("c", "active")
    assert promoted.activated_at == datetime(2026, 1, 16, tzinfo=UTC)
    assert [f["account_id"] for f in fees(store)][-1] == promoted.account_id
    assert promote_waitlist(store, clock) == []


def test_prices_with_period_and_first_purchase_discounts(store: Store, clock: FakeClock) -> None:
    accounts(store, clock, "m", "q", "y", "f")
    create_plan(store, {"name": "free", "currency": "USD", "price": "0"}, clock=clock)
    assert subscribe(store, "f", "free", clock=clock).price == amount("0")
    assert fees(store) == []  # a free plan posts nothing
    create_plan(store, pro(first_purchase_discount="50"), clock=clock)
    month = subscribe(store, "m", "pro", "month", clock=clock)
    quarter = subscribe(store, "q", "pro", "quarter", clock=clock)
    year = subscribe(store, "y", "pro", "year", clock=clock)
    # 20 x 1 x 0.5; 20 x 3 x 0.9 x 0.5; 20 x 12 x 0.8 x 0.5
    assert [s.price for s in (month, quarter, year)] == [amount("10"), amount("27"), amount("96")]
    assert quarter.period_end == datetime(2026, 4, 15, 14, tzinfo=UTC)
    assert year.period_end == datetime(2027, 1, 15, 14, tzinfo=UTC)
    fee = next(f for f in fees(store) if f["subscription"] == quarter.id)
    assert fee["debit"] == f"receivable:{quarter.account_id}:USD"
    assert fee["discounts"] == {"period": "10", "first_purchase": "50"}
    assert (fee["list_price"], fee["price"], fee["plan_version"]) == (
        "60.000000",
        "27.000000",
        "pro@v1",
    )
    # the first-purchase discount applies once: not on a renewal, not on a new subscription
    clock.advance(31 * 86400)
    renewed = {s.account: s for s in renew_due(store, clock)}
    assert renewed["m"].price == amount("20") and not renewed["m"].first_purchase
    cancel(store, "m", clock=clock)
    again = subscribe(store, "m", "pro", clock=clock)
    assert again.price == amount("20") and not again.first_purchase


def test_repricing_keeps_existing_prices_until_their_period_ends(
    store: Store, clock: FakeClock
) -> None:
    """The issue's example: +30%, first-purchase discount removed, period discounts kept."""
    accounts(store, clock, "old", "new", "yearly")
    create_plan(store, pro(first_purchase_discount="50"), clock=clock)
    old = subscribe(store, "old", "pro", clock=clock)
    subscribe(store, "yearly", "pro", "year", clock=clock)
    clock.advance(86400)
    info = reprice_plan(
        store, "pro", {"price": "26.00", "first_purchase_discount": "0"}, clock=clock
    )
    assert (info.current.version, info.current.id) == (2, "pro@v2")
    assert dict(info.current.terms.periods)["year"] == 20
    new = subscribe(store, "new", "pro", "quarter", clock=clock)
    assert (new.price, new.plan_version) == (amount("70.2"), "pro@v2")  # 26 x 3 x 0.9
    assert renew_due(store, clock) == []  # nobody's period has ended: nothing recharged
    clock.advance(30 * 86400)
    [renewed] = renew_due(store, clock)
    assert renewed.id == old.id and renewed.period_index == 1
    assert (renewed.price, renewed.plan_version) == (amount("26"), "pro@v2")
    assert renewed.period_start == old.period_end
    last = fees(store)[-1]
    assert last["id"] == f"plan_fee:{old.id}:1"
    assert (last["amount"], last["plan_version"], last["at"]) == (
        amount("26"),
        "pro@v2",
        old.period_end,
    )
    assert renew_due(store, clock) == []  # idempotent
    history = get_plan(store, "pro", clock=clock).as_dict(history=True)["versions"]
    assert [(v["version"], v["price"]) for v in history] == [(1, "20.000000"), (2, "26.000000")]


def test_forever_grandfathering_keeps_the_old_price_on_renewals(
    store: Store, clock: FakeClock
) -> None:
    accounts(store, clock, "old")
    create_plan(store, pro(), clock=clock)
    old = subscribe(store, "old", "pro", clock=clock)
    clock.advance(1)
    reprice_plan(store, "pro", {"price": "30", "grandfather": "forever"}, clock=clock)
    clock.advance(100 * 86400)  # three periods late: each is charged once
    [renewed] = renew_due(store, clock)
    assert renewed.period_index == 3 and renewed.plan_version == "pro@v1"
    assert [f["amount"] for f in fees(store)] == [amount("20")] * 4
    assert [f["id"] for f in fees(store)][-1] == f"plan_fee:{old.id}:3"
    assert renewed.period_end == datetime(2026, 5, 15, 14, tzinfo=UTC)


def test_a_scheduled_reprice_applies_from_its_effective_instant(
    store: Store, clock: FakeClock
) -> None:
    accounts(store, clock, "a", "b")
    create_plan(store, pro(), clock=clock)
    later = clock.now() + timedelta(days=2)
    reprice_plan(store, "pro", {"price": "25"}, effective_from=later, clock=clock)
    assert subscribe(store, "a", "pro", clock=clock).price == amount("20")
    clock.advance(2 * 86400)
    assert subscribe(store, "b", "pro", clock=clock).price == amount("25")
    with pytest.raises(Conflict, match="must start after it"):
        reprice_plan(store, "pro", {"price": "30"}, effective_from=later, clock=clock)


def test_two_subscribers_racing_for_the_last_seat(store: Store, clock: FakeClock) -> None:
    """Exactly one of two simultaneous subscribers gets the seat; the other waits."""
    accounts(store, clock, "first", *[f"r{i}" for i in range(6)])
    create_plan(store, pro(max_subscribers=2), clock=clock)
    subscribe(store, "first", "pro", clock=clock)
    for round_ in range(3):
        a, b = f"r{2 * round_}", f"r{2 * round_ + 1}"
        results = _race(store, clock, a, b)
        assert sorted(results.values()) == ["active", "waitlisted"], results
        winner = a if results[a] == "active" else b
        cancel(store, winner, clock=clock)  # frees the seat: the loser is promoted
        assert get_plan(store, "pro", clock=clock).active == 2
        cancel(store, b if winner == a else a, clock=clock)
    assert get_plan(store, "pro", clock=clock).waitlisted == 0


def _race(store: Store, clock: FakeClock, *names: str) -> dict[str, str]:
    """Subscribe every account at once, each on its own thread: their statuses."""
    barrier = threading.Barrier(len(names))
    results: dict[str, str] = {}

    def run(name: str) -> None:
        barrier.wait()
        results[name] = subscribe(store, name, "pro", clock=clock).status

    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_bad_input_is_refused_with_one_line_and_writes_nothing(
    store: Store, clock: FakeClock
) -> None:
    """Unknown names, bad periods, a second live subscription, bad plans and reprices."""
    accounts(store, clock, "a")
    create_plan(store, pro(), clock=clock)
    create_plan(store, {"name": "basic", "currency": "USD", "price": "5"}, clock=clock)
    bad_subscriptions = [
        ("nobody", "pro", "month", NotFound, "unknown account 'nobody'"),
        ("a", "gold", "month", NotFound, "unknown plan 'gold'"),
        ("a", "pro", "week", InvalidRequest, "unknown period 'week'"),
        ("a", "basic", "year", InvalidRequest, r"not sold per year \(offered: month\)"),
    ]
    for account, plan, period, error, message in bad_subscriptions:
        with pytest.raises(error, match=message):
            subscribe(store, account, plan, period, clock=clock)
    assert subscription_of(store, "a") is None and fees(store) == []

    subscribe(store, "a", "pro", clock=clock)
    with pytest.raises(Conflict, match="already has a active subscription to plan 'pro'"):
        subscribe(store, "a", "basic", clock=clock)
    cancel(store, "a", clock=clock)
    with pytest.raises(NotFound, match="no active or waitlisted subscription"):
        cancel(store, "a", clock=clock)
    assert subscribe(store, "a", "basic", clock=clock).status == "active"

    with pytest.raises(Conflict, match="already exists"):
        create_plan(store, pro(price="1"), clock=clock)
    with pytest.raises(InvalidRequest, match="two quotas on the same window"):
        create_plan(
            store,
            pro(name="x", quotas=[{"window": "day", "unit": "tokens", "limit": 5}] * 2),
            clock=clock,
        )
    with pytest.raises(InvalidRequest, match="unknown currency 'XYZ'"):
        create_plan(store, pro(name="y", currency="XYZ"), clock=clock)
    with pytest.raises(NotFound, match="unknown plan 'gold'"):
        reprice_plan(store, "gold", {"price": "1"}, clock=clock)
    with pytest.raises(InvalidRequest, match="in the past"):
        past = clock.now() - timedelta(seconds=1)
        reprice_plan(store, "pro", {"price": "1"}, effective_from=past, clock=clock)
    with pytest.raises(InvalidRequest, match="cannot change the plan's name or currency"):
        reprice_plan(store, "pro", {"currency": "EUR"}, clock=clock)
    clock.advance(1)
    with pytest.raises(InvalidRequest, match="'price' must not be negative"):
        reprice_plan(store, "pro", {"price": "-5"}, clock=clock)
    with pytest.raises(InvalidRequest, match="two quotas on the same window"):
        reprice_plan(
            store,
            "pro",
            {"quotas": [{"window": "5h", "unit": "requests", "limit": 5}] * 2},
            clock=clock,
        )
    assert [v.version for v in get_plan(store, "pro", clock=clock).versions] == [1]
    assert [p for p in ("x", "y") if _exists(store, clock, p)] == []
    assert len(fees(store)) == 2


def _exists(store: Store, clock: FakeClock, plan: str) -> bool:
    try:
        get_plan(store, plan, clock=clock)
    except NotFound:
        return False
    return True
