"""What an account's plan entitles it to, as the request path needs it, cached briefly.

`entitlement_of` reads the account's active subscription and the terms it holds
(the version it pays for, or a later one repriced with grandfather "none"; see
`repo.terms_version`). A waitlisted or canceled subscription entitles nothing.
An active subscription stays in force until it is canceled: renewals are charged
by `renew_due` on a timer, and a late timer does not cut anyone off.

`EntitlementCache` keeps each answer for `ttl_s` (default 1 s), so a cancellation
or a repricing reaches every gateway within a second without one database read per
request. Loads run on a thread, and concurrent requests of one account share one load.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Literal

from tokenward.clock import Clock
from tokenward.plans import repo
from tokenward.plans.quota import QuotaPlan
from tokenward.storage.db import Store


@dataclass(frozen=True, slots=True)
class Entitlement:
    """An account's active subscription: its plan's tier, models, overage and quotas."""

    subscription_id: str
    account_id: str
    plan: str
    plan_version: str  # the version whose terms apply now
    tier: str
    currency: str
    allowed_models: tuple[str, ...]  # fnmatch globs; () = every model
    overage: Literal["block", "credits"]
    price_multiplier: Decimal  # on pay-as-you-go usage beyond the quota
    quota: QuotaPlan

    def allows(self, model: str) -> bool:
        """Whether the plan covers `model` (a public model name)."""
        return not self.allowed_models or any(fnmatchcase(model, g) for g in self.allowed_models)


def entitlement_of(store: Store, account_id: str, at: datetime) -> Entitlement | None:
    """The entitlement of account `account_id` at `at`, or None without an active plan."""
    with store.transaction() as conn:
        sub = repo.live_of(conn, account_id)
        if sub is None or sub.status != "active":
            return None
        version = repo.terms_version(repo.versions(conn, sub.plan), sub.plan_version, at)
    if version is None:  # pragma: no cover - versions are never deleted
        return None
    terms = version.terms
    return Entitlement(
        subscription_id=sub.id,
        account_id=account_id,
        plan=sub.plan,
        plan_version=version.id,
        tier=terms.tier,
        currency=version.currency,
        allowed_models=terms.models,
        overage=terms.overage,
        price_multiplier=terms.price_multiplier,
        quota=QuotaPlan(
            subscription_id=sub.id,
            plan=sub.plan,
            rules=terms.quotas,
            weights=terms.weights,
            concurrency=terms.concurrency,
        ),
    )


class EntitlementCache:
    """Per-account entitlements for `ttl_s` seconds (of `clock.monotonic()`)."""

    def __init__(self, store: Store, clock: Clock, ttl_s: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl_s
        self._entries: dict[str, tuple[float, Entitlement | None]] = {}
        self._loading: dict[str, asyncio.Task[Entitlement | None]] = {}

    async def get(self, account_id: str) -> Entitlement | None:
        """The account's entitlement, from the cache while fresh, else loaded."""
        cached = self._entries.get(account_id)
        if cached is not None and cached[0] > self._clock.monotonic():
            return cached[1]
        task = self._loading.get(account_id)
        if task is None:
            task = asyncio.create_task(self._load(account_id))
            self._loading[account_id] = task
        # shielded: a caller that goes away does not cancel the load others wait for
        return await asyncio.shield(task)

    async def _load(self, account_id: str) -> Entitlement | None:
        try:
            found = await asyncio.to_thread(
                entitlement_of, self._store, account_id, self._clock.now()
            )
        finally:
            del self._loading[account_id]
        self._entries[account_id] = (self._clock.monotonic() + self._ttl, found)
        return found

    def invalidate(self, account_id: str | None = None) -> None:
        """Forget one account (or every account), e.g. after a local subscribe or cancel."""
        if account_id is None:
            self._entries.clear()
        else:
            self._entries.pop(account_id, None)


__all__ = ["Entitlement", "EntitlementCache", "entitlement_of"]
