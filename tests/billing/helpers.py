"""Rows for billing tests, written directly (events via insert_batch, money via post)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.ledger.events import make_event
from tokenward.auth import service
from tokenward.clock import FakeClock
from tokenward.ledger import double_entry
from tokenward.ledger.model import BilledTo, UsageEvent
from tokenward.pricing import ModelPrice, PriceCatalog, PriceVersion, PriceWindow
from tokenward.storage import Store
from tokenward.timewindows import DailyWindow

NOV = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def account(store: Store, name: str) -> str:
    """Create an account; its id."""
    return service.create_account(store, name, clock=FakeClock()).id


def event(
    request_id: str,
    account_id: str,
    cost: str | Decimal | None,
    *,
    model: str = "m1",
    currency: str = "USD",
    version: str = "book@2026-11-01",
    window: str = "",
    billed_to: BilledTo = "postpaid",
    started_at: datetime = NOV,
    deployment: str = "sim/up-m1",
    **tokens: Any,
) -> UsageEvent:
    base = make_event(
        request_id, account_id=account_id, model=model, started_at=started_at, **tokens
    )
    return replace(
        base,
        deployment=deployment,
        upstream_model=deployment.split("/", 1)[-1],
        cost=None if cost is None else Decimal(cost),
        currency=currency if cost is not None else "",
        price_version=version if cost is not None else "",
        price_window=window,
        billed_to=billed_to if cost is not None else "none",
    )


def post(store: Store, tx: double_entry.Transaction) -> bool:
    with store.transaction(write=True) as conn:
        return double_entry.post(conn, tx)


def plan_fee(account_id: str, micros: int, at: datetime, currency: str = "USD") -> Any:
    """A plan fee charged to the account's receivable."""
    return double_entry.transfer(
        f"plan_fee:{account_id}:{at:%Y%m}",
        "plan_fee",
        debit=double_entry.receivable_account(account_id, currency),
        credit=double_entry.plan_revenue_account(currency),
        amount=micros,
        currency=currency,
        at=at,
        account_id=account_id,
        details={
            "plan": "pro",
            "plan_version": "pro@1",
            "period": "month",
            "period_start": "2026-11-01T00:00:00Z",
            "period_end": "2026-12-01T00:00:00Z",
            "list_price": "20",
            "discounts": [],
            "price": "20",
        },
    )


def prepaid_usage(ev: UsageEvent) -> Any:
    """The settle of a prepaid event: its cost from the account's credit to revenue."""
    assert ev.cost is not None
    return double_entry.transfer(
        f"usage:{ev.request_id}",
        "usage",
        debit=double_entry.credit_account(ev.account_id, ev.currency),
        credit=double_entry.usage_revenue_account(ev.currency),
        amount=int(ev.cost * 1_000_000),
        currency=ev.currency,
        at=ev.finished_at,
        account_id=ev.account_id,
        details={"model": ev.model, "cost": str(ev.cost), "billed_to": "prepaid"},
    )


def catalog() -> PriceCatalog:
    """One version of "book" pricing m1 (with an off-peak window at half price) and m2."""
    off_peak = PriceWindow(
        name="off_peak",
        window=DailyWindow.parse("00:00", "08:00", "UTC"),
        multiplier=Decimal("0.5"),
        models=(),
    )
    prices = {
        "m1": ModelPrice(
            "m1",
            {"input": Decimal("2.50"), "cached_input": Decimal("1.25"), "output": Decimal(10)},
            {},
            "https://example.test/prices (read 2026-10-30)",
        ),
        "m2": ModelPrice("m2", {"input": Decimal("0.15"), "output": Decimal("0.6")}, {}, "x"),
    }
    version = PriceVersion(
        id="book@2026-11-01",
        book="book",
        currency="USD",
        effective_from=datetime(2026, 11, 1, tzinfo=UTC),
        published_at=datetime(2026, 10, 30, tzinfo=UTC),
        models=prices,
        windows=(off_peak,),
        note="",
    )
    return PriceCatalog([version])
