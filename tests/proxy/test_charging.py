"""The charge stage on a real store: who pays, what is held, and what is refused.

R-CR-3: a prepaid request for a model with no price is never admitted without a
hold: it gets a 402, or the configured default reservation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tokenward.auth import create_account
from tokenward.auth.principal import Principal, config_admin_principal
from tokenward.clock import FakeClock
from tokenward.config.schema import BillingSettings, DatabaseSettings
from tokenward.errors import InsufficientCredit, PermissionDenied
from tokenward.ledger.credits import balances, grant
from tokenward.limits import MemoryLimiter
from tokenward.plans import create_plan, subscribe
from tokenward.plans.cache import EntitlementCache
from tokenward.plans.quota import QuotaEngine, QuotaExceeded
from tokenward.pricing.catalog import CatalogCache
from tokenward.pricing.service import ensure_default_book
from tokenward.proxy.charging import ChargeStage, Estimate
from tokenward.proxy.context import RequestContext
from tokenward.storage import Store, migrate

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
SIM_SMALL = ("sim-small", "sim-small")
UNPRICED = ("private-llm", "private-llm")


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    migrate(opened)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


async def stage_for(store: Store, clock: FakeClock, **billing: Any) -> ChargeStage:
    ensure_default_book(store, clock)
    catalog = CatalogCache(store, clock)
    await catalog.get()
    settings = BillingSettings(**billing)
    return ChargeStage(
        store=store,
        clock=clock,
        settings=settings,
        catalog=catalog,
        entitlements=EntitlementCache(store, clock),
        quotas=QuotaEngine(MemoryLimiter(clock)),
    )


def context(principal: Principal, n: int = 1) -> RequestContext:
    return RequestContext(f"req_{n}", "chat.completions", NOW, 0.0, principal=principal)


def principal_of(store: Store, clock: FakeClock, name: str, billing: str) -> Principal:
    info = create_account(store, name, billing, clock=clock)
    return Principal(info.id, name, f"key_{name}", "app", "user", billing_mode=billing)


def worst(input_tokens: int = 100, output_tokens: int = 1000) -> Estimate:
    return Estimate(input_tokens, output_tokens)


async def test_prepaid_holds_its_worst_case_and_is_refused_without_credit(
    store: Store, clock: FakeClock
) -> None:
    stage = await stage_for(store, clock)
    payer = principal_of(store, clock, "payer", "prepaid")
    with pytest.raises(InsufficientCredit, match="insufficient credit"):
        await stage.admit(context(payer), SIM_SMALL, worst)
    grant(store, "payer", Decimal("1.00"), "USD", clock=clock, actor="test")
    charge = await stage.admit(context(payer, 2), SIM_SMALL, worst)
    # demo prices: 100 x $0.10/M + 1000 x $0.40/M = $0.00041
    assert charge.billed_to == "prepaid" and charge.credit_hold is not None
    assert charge.credit_hold.amount == 410
    [usd] = balances(store, "payer")
    assert usd.reserved == Decimal("0.00041") and usd.available == Decimal("0.99959")
    await stage.give_back(charge)
    assert balances(store, "payer")[0].reserved == 0


async def test_an_unpriced_model_is_never_admitted_without_a_hold(
    store: Store, clock: FakeClock
) -> None:
    strict = await stage_for(store, clock)
    payer = principal_of(store, clock, "payer", "prepaid")
    grant(store, "payer", Decimal("5.00"), "USD", clock=clock, actor="test")
    with pytest.raises(InsufficientCredit, match="has no price"):
        await strict.admit(context(payer), UNPRICED, worst)
    lenient = await stage_for(store, clock, unpriced_reservation="0.25")
    charge = await lenient.admit(context(payer, 2), UNPRICED, worst)
    assert charge.credit_hold is not None and charge.credit_hold.amount == 250_000


async def test_postpaid_and_the_admin_hold_nothing(store: Store, clock: FakeClock) -> None:
    stage = await stage_for(store, clock)
    later = principal_of(store, clock, "later", "postpaid")
    assert (await stage.admit(context(later), SIM_SMALL, worst)).billed_to == "postpaid"
    admin = config_admin_principal()
    assert (await stage.admit(context(admin), SIM_SMALL, worst)).billed_to == "none"


async def test_a_plan_covers_its_quota_then_blocks_or_falls_back_to_credit(
    store: Store, clock: FakeClock
) -> None:
    stage = await stage_for(store, clock)
    for name, overage in (("strict", "block"), ("flex", "credits")):
        create_plan(
            store,
            {
                "name": name,
                "currency": "USD",
                "price": "0",
                "quotas": [{"window": "5h", "unit": "requests", "limit": 2}],
                "models": ["sim-*"],
                "overage": overage,
                "price_multiplier": "2",
            },
            clock=clock,
        )
    blocked = principal_of(store, clock, "blocked", "postpaid")
    flexible = principal_of(store, clock, "flexible", "prepaid")
    subscribe(store, "blocked", "strict", clock=clock)
    subscribe(store, "flexible", "flex", clock=clock)
    grant(store, "flexible", Decimal("1.00"), "USD", clock=clock, actor="test")

    n = 0
    for who in (blocked, flexible):
        for _ in range(2):
            n += 1
            ctx = context(who, n)
            await stage.entitle(ctx, SIM_SMALL)
            assert (await stage.admit(ctx, SIM_SMALL, worst)).billed_to == "plan"
        ctx = context(who, n + 100)
        with pytest.raises(PermissionDenied, match="does not include model"):
            await stage.entitle(ctx, UNPRICED)

    ctx = context(blocked, 200)
    await stage.entitle(ctx, SIM_SMALL)
    with pytest.raises(QuotaExceeded):
        await stage.admit(ctx, SIM_SMALL, worst)
    ctx = context(flexible, 201)
    await stage.entitle(ctx, SIM_SMALL)
    overage = await stage.admit(ctx, SIM_SMALL, worst)
    assert overage.billed_to == "prepaid" and overage.multiplier == Decimal(2)
    assert overage.credit_hold is not None and overage.credit_hold.amount == 820  # 2 x list
