"""Repricing on the invoice: an existing subscriber keeps the old price until the end
of their period and then renews at the new one; a new subscriber pays the new price.

Plans and the ledger are driven by their own services (no hand-made rows), so this
checks the invoice against what the plans engine really posts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tokenward.auth import create_account
from tokenward.billing import build_invoice, render_invoice
from tokenward.clock import FakeClock
from tokenward.ledger.check import check_ledger
from tokenward.plans import create_plan, renew_due, reprice_plan, subscribe
from tokenward.storage import Store


def fee_lines(store: Store, account: str, period: str) -> list[Decimal]:
    invoice = build_invoice(store, account, period, catalog=None, currency="USD")
    return [line.amount for line in invoice.lines if line.kind == "plan_fee"]


def test_old_subscribers_keep_their_price_until_renewal_and_new_ones_pay_the_new(
    store: Store,
) -> None:
    clock = FakeClock(datetime(2026, 1, 10, 9, 0, tzinfo=UTC))
    for name in ("early", "late"):
        create_account(store, name, clock=clock)
    create_plan(
        store,
        {
            "name": "pro",
            "currency": "USD",
            "price": "20.00",
            "periods": {"month": "0", "quarter": "10"},
            "first_purchase_discount": "50",
        },
        clock=clock,
    )
    subscribe(store, "early", "pro", clock=clock)  # first purchase: half of $20
    clock.advance(86_400)
    # the repricing: +30%, first-purchase discount removed, period discounts kept
    reprice_plan(store, "pro", {"price": "26.00", "first_purchase_discount": "0"}, clock=clock)
    clock.advance(86_400)
    subscribe(store, "late", "pro", "quarter", clock=clock)  # 3 x $26, 10% off

    assert fee_lines(store, "early", "2026-01") == [Decimal("10.000000")]
    assert fee_lines(store, "late", "2026-01") == [Decimal("70.200000")]

    clock.advance(timedelta(days=31).total_seconds())  # early's month is over
    renew_due(store, clock)
    assert fee_lines(store, "early", "2026-02") == [Decimal("26.000000")]
    assert fee_lines(store, "late", "2026-02") == []  # paid for the quarter

    january = build_invoice(store, "early", "2026-01", catalog=None)
    assert january.total == Decimal("10.000000")
    assert b"pro" in render_invoice(january, "html")
    assert check_ledger(store).ok
