"""Entitlements: what the request path learns about an account's plan, and its cache."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tokenward.clock import FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.plans import (
    EntitlementCache,
    cancel,
    create_plan,
    entitlement_of,
    renew_due,
    reprice_plan,
    subscribe,
)
from tokenward.plans.quota import QuotaPlan
from tokenward.plans.quota_rules import parse_quota, parse_weights
from tokenward.storage import Store, migrate
from tokenward.storage.repos import accounts as accounts_repo

from .support import accounts

QUOTAS = [
    {"window": "5h", "unit": "requests", "limit": 100},
    {"window": "week", "unit": "tokens", "limit": 2_000_000, "kind": "session"},
]
WEIGHTS = {"models": {"gpt-4o*": "3"}}


def account_id(store: Store, name: str) -> str:
    with store.transaction() as conn:
        row = accounts_repo.get_by_name(conn, name)
    assert row is not None
    return row.id


def test_entitlement_of_answers_with_the_plans_quota(store: Store, clock: FakeClock) -> None:
    accounts(store, clock, "a", "b")
    create_plan(
        store,
        {
            "name": "pro",
            "currency": "CNY",
            "price": "99",
            "tier": "gold",
            "quotas": QUOTAS,
            "weights": WEIGHTS,
            "models": ["gpt-*"],
            "concurrency": 2,
            "overage": "credits",
            "price_multiplier": "1.2",
            "max_subscribers": 1,
        },
        clock=clock,
    )
    a, b = account_id(store, "a"), account_id(store, "b")
    assert entitlement_of(store, a, clock.now()) is None
    sub = subscribe(store, "a", "pro", clock=clock)
    subscribe(store, "b", "pro", clock=clock)  # waitlisted: entitled to nothing
    assert entitlement_of(store, b, clock.now()) is None
    found = entitlement_of(store, a, clock.now())
    assert found is not None
    assert (found.subscription_id, found.account_id, found.plan, found.plan_version) == (
        sub.id,
        a,
        "pro",
        "pro@v1",
    )
    assert (found.tier, found.currency, found.overage) == ("gold", "CNY", "credits")
    assert found.price_multiplier == Decimal("1.2")
    assert found.quota == QuotaPlan(
        subscription_id=sub.id,
        plan="pro",
        rules=tuple(parse_quota(q) for q in QUOTAS),
        weights=parse_weights(WEIGHTS),
        concurrency=2,
    )
    assert found.allows("gpt-4o") and not found.allows("claude-3")

    # grandfather "period_end": the subscriber keeps v1's terms until renewal
    clock.advance(60)
    reprice_plan(store, "pro", {"price": "120", "models": []}, clock=clock)
    held = entitlement_of(store, a, clock.now())
    assert held is not None and held.plan_version == "pro@v1" and not held.allows("claude-3")
    clock.advance(31 * 86400)
    renew_due(store, clock)
    renewed = entitlement_of(store, a, clock.now())
    assert renewed is not None and renewed.plan_version == "pro@v2" and renewed.allows("claude-3")
    # grandfather "none": new terms apply to everyone at once
    clock.advance(60)
    reprice_plan(store, "pro", {"quotas": QUOTAS[:1], "grandfather": "none"}, clock=clock)
    now = entitlement_of(store, a, clock.now())
    assert now is not None and now.plan_version == "pro@v3" and len(now.quota.rules) == 1
    cancel(store, "a", clock=clock)  # b is promoted
    assert entitlement_of(store, a, clock.now()) is None
    promoted = entitlement_of(store, b, clock.now())
    assert promoted is not None and promoted.plan_version == "pro@v3"


@pytest.mark.anyio
async def test_the_cache_answers_from_memory_for_its_ttl(tmp_path: Path) -> None:
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'cache.db'}"))
    migrate(store)
    try:
        clock = FakeClock()
        accounts(store, clock, "a")
        create_plan(store, {"name": "pro", "currency": "USD", "price": "1"}, clock=clock)
        cache = EntitlementCache(store, clock, ttl_s=1.0)
        a = account_id(store, "a")
        assert await cache.get(a) is None
        subscribe(store, "a", "pro", clock=clock)
        assert await cache.get(a) is None  # still cached
        clock.advance(1.0)
        loaded = await asyncio.gather(*(cache.get(a) for _ in range(20)))
        assert all(e is not None and e.plan == "pro" for e in loaded)
        cancel(store, "a", clock=clock)
        assert await cache.get(a) is not None
        cache.invalidate(a)
        assert await cache.get(a) is None
        clock.advance(timedelta(hours=1).total_seconds())
        assert await cache.get("acc_unknown") is None
    finally:
        store.close()
