"""Credits on SQLite and PostgreSQL: grants, holds, settlement postings, bad input."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from tokenward.audit import AuditLog
from tokenward.auth import create_account
from tokenward.clock import FakeClock
from tokenward.errors import InsufficientCredit, InvalidRequest, NotFound
from tokenward.ledger.check import check_ledger
from tokenward.ledger.credits import (
    CreditBalance,
    CreditHold,
    UsageCharge,
    balances,
    grant,
    post_usage_charges,
    release,
    reserve,
    reserve_credit,
    sweep_expired,
)
from tokenward.ledger.double_entry import balance
from tokenward.storage import Store
from tokenward.storage.tables_ledger import (
    credit_reservations,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
)

CENT = 10_000  # micros


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acme(store: Store, clock: FakeClock) -> str:
    return create_account(store, "acme", "prepaid", clock=clock).id


def hold_for(store: Store, clock: FakeClock, account: str, micros: int, **kw: Any) -> CreditHold:
    return reserve_credit(
        store,
        account_id=account,
        request_id=kw.pop("request_id", f"req-{random.random()}"),
        amount=micros,
        currency=kw.pop("currency", "USD"),
        at=clock.now(),
        lease_s=kw.pop("lease_s", 60.0),
        **kw,
    )


def settle(store: Store, clock: FakeClock, hold: CreditHold, cost: int) -> None:
    charge = UsageCharge(
        request_id=hold.request_id,
        account_id=hold.account_id,
        currency=hold.currency,
        cost=cost,
        billed_to="prepaid",
        hold_id=hold.id,
        at=clock.now(),
        details={"model": "sim-small", "price_version": "v1", "price_window": ""},
    )
    with store.transaction(write=True) as conn:
        post_usage_charges(conn, [charge])


def only(store: Store, account: str) -> CreditBalance:
    [found] = balances(store, account)
    return found


def row_counts(store: Store) -> tuple[int, ...]:
    with store.transaction() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (ledger_transactions, ledger_entries, ledger_accounts, credit_reservations)
        )


def test_grant_reserve_settle_release_and_balances(
    store: Store, clock: FakeClock, acme: str
) -> None:
    granted = grant(store, "acme", Decimal("1.00"), "usd", clock=clock, actor="cli", memo="promo")
    assert granted.as_dict() == {
        "account_id": acme,
        "currency": "USD",
        "available": "1.000000",
        "reserved": "0.000000",
        "granted": "1.000000",
        "spent": "0.000000",
    }
    grant(store, acme, "0.5", "USD", clock=clock, actor="cli")  # by id, from a string
    short = hold_for(store, clock, acme, 20 * CENT)
    long = hold_for(store, clock, acme, 30 * CENT)
    over = hold_for(store, clock, acme, 5 * CENT)
    zero = hold_for(store, clock, acme, 0)
    assert only(store, acme).available == Decimal("0.95")
    assert only(store, acme).reserved == Decimal("0.55")
    settle(store, clock, short, 12 * CENT)  # cheaper than held: 8 cents come back
    settle(store, clock, over, 7 * CENT)  # the estimate was low: 2 more cents from credit
    settle(store, clock, zero, 0)  # nothing at all: no transaction
    assert release(store, long.id, at=clock.now()) is True
    assert release(store, long.id, at=clock.now()) is False
    settle(store, clock, short, 12 * CENT)  # replay: a no-op
    final = only(store, "acme")
    assert (final.available, final.reserved) == (Decimal("1.31"), Decimal(0))
    assert (final.granted, final.spent) == (Decimal("1.5"), Decimal("0.19"))
    with store.transaction() as conn:
        assert balance(conn, "revenue:usage:USD") == 19 * CENT
        kinds = dict(
            conn.execute(
                select(ledger_transactions.c.kind, func.count()).group_by(
                    ledger_transactions.c.kind
                )
            ).all()
        )
        details = orjson.loads(
            conn.execute(
                select(ledger_transactions.c.details).where(
                    ledger_transactions.c.id == f"usage:{over.request_id}"
                )
            ).scalar_one()
        )
    assert kinds == {"grant": 2, "reserve": 3, "usage": 2, "release": 1}
    assert details["cost"] == 7 * CENT and details["hold"] == 5 * CENT
    assert details["billed_to"] == "prepaid" and details["model"] == "sim-small"
    assert check_ledger(store).ok, check_ledger(store).problems
    actions = [r.action for r in AuditLog(store, clock).records(limit=10, after=0)]
    assert actions.count("credits.grant") == 2


def test_refused_reservation_says_why_and_writes_nothing(
    store: Store, clock: FakeClock, acme: str
) -> None:
    with pytest.raises(InsufficientCredit) as refused:
        hold_for(store, clock, acme, 12_000)  # no credit account at all yet
    assert refused.value.message == (
        "insufficient credit: this request may cost up to 0.012000 USD,"
        " available balance 0.000000 USD"
    )
    grant(store, acme, "0.004", "USD", clock=clock, actor="cli")
    before = row_counts(store)
    with pytest.raises(InsufficientCredit, match=r"available balance 0\.004000 USD"):
        hold_for(store, clock, acme, 12_000)
    assert row_counts(store) == before
    # an overdraft lets the balance go below zero by at most that much
    hold = hold_for(store, clock, acme, 12_000, overdraft=10_000)
    assert only(store, acme).available == Decimal("-0.008")
    with pytest.raises(InsufficientCredit, match=r"-0.008000 USD \(overdraft allowed"):
        hold_for(store, clock, acme, 3_000, overdraft=10_000)
    settle(store, clock, hold, 1_000)
    assert only(store, acme).available == Decimal("0.003")
    assert check_ledger(store).ok


def test_overdraft_without_any_credit_yet(store: Store, clock: FakeClock, acme: str) -> None:
    zero = hold_for(store, clock, acme, 0)  # a zero hold needs no credit account
    assert balances(store, acme) == []
    hold = hold_for(store, clock, acme, 5_000, overdraft=5_000, currency="EUR")
    assert only(store, acme).available == Decimal("-0.005")
    settle(store, clock, hold, 5_000)
    settle(store, clock, zero, 0)
    assert only(store, acme).spent == Decimal("0.005")
    assert check_ledger(store).ok


def test_expired_holds_are_swept_and_a_late_settle_debits_the_credit(
    store: Store, clock: FakeClock, acme: str
) -> None:
    grant(store, acme, "1", "USD", clock=clock, actor="cli")
    late = hold_for(store, clock, acme, 10 * CENT, lease_s=30)
    kept = hold_for(store, clock, acme, 10 * CENT, lease_s=300)
    clock.advance(30)
    assert sweep_expired(store, clock) == 1
    assert sweep_expired(store, clock) == 0
    assert only(store, acme).reserved == Decimal("0.1")
    settle(store, clock, late, 4 * CENT)  # its hold is gone: straight from the credit
    settle(store, clock, kept, 4 * CENT)
    final = only(store, acme)
    assert (final.available, final.reserved, final.spent) == (
        Decimal("0.92"),
        Decimal(0),
        Decimal("0.08"),
    )
    assert check_ledger(store).ok


def test_postpaid_charges_and_batches(store: Store, clock: FakeClock, acme: str) -> None:
    beta = create_account(store, "beta", clock=clock).id
    grant(store, acme, "10", "USD", clock=clock, actor="cli")
    holds = [hold_for(store, clock, acme, 3 * CENT, request_id=f"p{i}") for i in range(5)]
    charges = [
        UsageCharge(f"q{i}", beta, "USD", i * CENT, "postpaid", None, clock.now(), {})
        for i in range(5)
    ] + [
        UsageCharge(h.request_id, acme, "USD", 2 * CENT, "prepaid", h.id, clock.now(), {})
        for h in holds
    ]
    with store.transaction(write=True) as conn:
        post_usage_charges(conn, charges)
    with store.transaction(write=True) as conn:
        post_usage_charges(conn, charges)  # the whole batch replayed
        assert balance(conn, f"receivable:{beta}:USD") == 10 * CENT
        assert balance(conn, "revenue:usage:USD") == 20 * CENT
        usage = select(func.count()).where(ledger_transactions.c.kind == "usage")
        assert conn.execute(usage).scalar_one() == 9  # q0 cost nothing: no transaction
    assert only(store, acme).available == Decimal("9.9")
    assert check_ledger(store).ok


def test_a_hold_of_another_account_or_currency_is_given_back(
    store: Store, clock: FakeClock, acme: str
) -> None:
    grant(store, acme, "1", "USD", clock=clock, actor="cli")
    hold = hold_for(store, clock, acme, 10 * CENT)
    wrong = UsageCharge(hold.request_id, acme, "EUR", CENT, "prepaid", hold.id, clock.now(), {})
    with store.transaction(write=True) as conn:
        post_usage_charges(conn, [wrong])
    usd = only(store, acme) if len(balances(store, acme)) == 1 else balances(store, acme)[1]
    assert (usd.currency, usd.available, usd.reserved) == ("USD", Decimal(1), Decimal(0))
    assert check_ledger(store).ok


def test_bad_input_is_refused_with_nothing_written(
    store: Store, clock: FakeClock, acme: str
) -> None:
    before = row_counts(store)
    bad: list[tuple[Any, str, type[Exception], str]] = [
        ("-1", "USD", InvalidRequest, "must not be negative"),
        ("0", "USD", InvalidRequest, "greater than zero"),
        ("ten", "USD", InvalidRequest, "not a decimal number"),
        (1.5, "USD", InvalidRequest, "not a float"),
        ("NaN", "USD", InvalidRequest, "not a decimal number"),
        ("0.0000001", "USD", InvalidRequest, "more than 6 decimal places"),
        ("1", "XYZ", InvalidRequest, "unknown currency 'XYZ'"),
    ]
    for amount, currency, error, message in bad:
        with pytest.raises(error, match=message):
            grant(store, acme, amount, currency, clock=clock, actor="cli")
    with pytest.raises(NotFound, match="unknown account 'nope'"):
        grant(store, "nope", "1", "USD", clock=clock, actor="cli")
    with pytest.raises(NotFound, match="unknown account 'nope'"):
        balances(store, "nope")
    assert row_counts(store) == before
    with pytest.raises(ValueError, match="whole micros"):
        UsageCharge("r", acme, "USD", -1, "prepaid", None, clock.now(), {})
    with pytest.raises(ValueError, match="billed_to"):
        UsageCharge("r", acme, "USD", 1, "plan", None, clock.now(), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole micros"), store.transaction() as conn:
        reserve(
            conn,
            account_id=acme,
            request_id="r",
            amount=-5,
            currency="USD",
            at=clock.now(),
            lease_s=1,
        )


def test_fifty_concurrent_reservations_against_one_dollar(
    store: Store, clock: FakeClock, acme: str
) -> None:
    grant(store, acme, "1.00", "USD", clock=clock, actor="cli")
    start = threading.Barrier(50)

    def attempt(i: int) -> CreditHold | str:
        start.wait()
        try:
            return hold_for(store, clock, acme, 10 * CENT, request_id=f"c{i}")
        except InsufficientCredit as exc:
            return exc.message

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(attempt, range(50)))
    held = [r for r in results if isinstance(r, CreditHold)]
    refused = [r for r in results if isinstance(r, str)]
    assert len(held) == 10 and len(refused) == 40
    assert all("available balance 0.000000 USD" in message for message in refused)
    rng = random.Random(7)
    costs = [rng.randint(4 * CENT, 10 * CENT) for _ in held]
    with store.transaction(write=True) as conn:
        post_usage_charges(
            conn,
            [
                UsageCharge(h.request_id, acme, "USD", cost, "prepaid", h.id, clock.now(), {})
                for h, cost in zip(held, costs, strict=True)
            ],
        )
    report = check_ledger(store)
    assert report.ok, report.problems
    final = only(store, acme)
    assert final.available == Decimal("1.00") - Decimal(sum(costs)) / 1_000_000
    assert final.reserved == 0 and final.spent == Decimal(sum(costs)) / 1_000_000


def test_sweep_releases_only_what_expired(store: Store, clock: FakeClock, acme: str) -> None:
    grant(store, acme, "5", "USD", clock=clock, actor="cli")
    for i in range(7):
        hold_for(store, clock, acme, CENT, lease_s=10 + i)
    clock.advance(13)
    assert sweep_expired(store, clock) == 4
    clock.advance(timedelta(hours=1).total_seconds())
    assert sweep_expired(store, clock) == 3
    assert only(store, acme).available == Decimal(5)
    assert check_ledger(store).ok
