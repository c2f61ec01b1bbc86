"""The writer's settlement: usage events and their postings in one transaction.

Postpaid charges are summed per account and currency per batch; prepaid ones consume
their holds one by one; `ledger check` ties the events (the sub-ledger) to the
usage revenue booked, and notices when they disagree.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select, update

from tokenward.auth import create_account
from tokenward.clock import FakeClock
from tokenward.ledger.check import check_ledger
from tokenward.ledger.credits import UsageCharge, balances, grant, reserve_credit
from tokenward.ledger.double_entry import balance, receivable_account
from tokenward.ledger.model import UsageEvent
from tokenward.money import to_micros
from tokenward.storage import Store
from tokenward.storage.repos.event_sink import insert_batch
from tokenward.storage.tables import usage_events
from tokenward.storage.tables_ledger import ledger_transactions

from .events import T0, make_event


def charged(
    request_id: str,
    account: str,
    cost: str,
    billed_to: Literal["prepaid", "postpaid"],
    hold: str | None = None,
) -> tuple[UsageEvent, UsageCharge]:
    event = replace(
        make_event(request_id, account_id=account),
        cost=Decimal(cost),
        currency="USD",
        billed_to=billed_to,
    )
    charge = UsageCharge(
        request_id,
        account,
        "USD",
        to_micros(Decimal(cost)),
        billed_to,
        hold,
        T0,
    )
    return event, charge


def kinds(store: Store) -> dict[str, int]:
    t = ledger_transactions.c
    with store.transaction() as conn:
        rows = conn.execute(select(t.kind, func.count()).group_by(t.kind)).all()
    return {kind: int(n) for kind, n in rows}


def test_postpaid_is_summed_per_batch_and_prepaid_settles_its_hold(store: Store) -> None:
    clock = FakeClock(T0)
    a = create_account(store, "a", clock=clock).id
    b = create_account(store, "b", clock=clock).id
    p = create_account(store, "p", "prepaid", clock=clock).id
    grant(store, "p", Decimal("1.00"), "USD", clock=clock, actor="test")
    hold = reserve_credit(
        store, account_id=p, request_id="r-p", amount=50_000, currency="USD", at=T0, lease_s=60
    )
    pairs = [
        charged("r-a1", a, "0.001000", "postpaid"),
        charged("r-a2", a, "0.002500", "postpaid"),
        charged("r-b1", b, "0.000300", "postpaid"),
        charged("r-p", p, "0.040000", "prepaid", hold.id),
    ]
    events, charges = zip(*pairs, strict=True)
    assert insert_batch(store, list(events), list(charges)) == [None] * 4
    assert kinds(store) == {"grant": 1, "reserve": 1, "usage": 1, "usage_batch": 2}
    with store.transaction() as conn:
        assert balance(conn, receivable_account(a, "USD")) == 3_500
        assert balance(conn, receivable_account(b, "USD")) == 300
    [usd] = balances(store, "p")
    assert usd.available == Decimal("0.96") and usd.reserved == 0
    assert check_ledger(store).ok, check_ledger(store).problems

    # a replayed batch inserts no event, so it posts nothing
    insert_batch(store, list(events), list(charges))
    assert kinds(store) == {"grant": 1, "reserve": 1, "usage": 1, "usage_batch": 2}
    assert check_ledger(store).ok


def test_ledger_check_notices_events_that_disagree_with_the_ledger(store: Store) -> None:
    clock = FakeClock(T0)
    a = create_account(store, "a", clock=clock).id
    event, charge = charged("r-1", a, "0.001000", "postpaid")
    insert_batch(store, [event], [charge])
    assert check_ledger(store).ok
    with store.transaction(write=True) as conn:
        conn.execute(update(usage_events).values(cost=usage_events.c.cost + 1))
    problems = check_ledger(store).problems
    assert problems == (
        f"account {a}: usage events cost 0.001001 USD but the ledger booked 0.001000 USD"
        " of usage revenue",
    )
