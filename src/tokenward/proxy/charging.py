"""The charge stage: who pays for a request, and what it holds before the upstream call.

Order, after the limits admitted the request (SPEC section 6):
1. A subscribed account's plan: the model must be allowed; the request takes its
   share of every quota window (weighted). An exhausted quota is a 429, or, with the
   `credits` overage policy, the request falls through to pay-as-you-go below at the
   plan's price multiplier.
2. Pay-as-you-go: a prepaid account reserves the request's worst-case cost (input
   estimate + `max_tokens` output at the prices in force now) as a credit hold, or
   gets a 402 with its balance; a postpaid account holds nothing (it is invoiced).
3. Settle (`proxy/settle.py`) rates the exact usage and posts it with the usage
   event, in one database transaction; quota holds are trued up after.

A request that dies before settle gives back its holds in `hold()`; a replica that
dies leaves credit holds that expire (`billing.reservation_lease_s`) and are swept.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from tokenward.auth.principal import CONFIG_ADMIN_ACCOUNT_ID
from tokenward.clock import Clock
from tokenward.config.schema import BillingSettings
from tokenward.errors import InsufficientCredit, PermissionDenied
from tokenward.ledger.credits import CreditHold, release, reserve_credit
from tokenward.ledger.model import BilledTo
from tokenward.money import MICROS_PER_UNIT, parse_amount, to_micros
from tokenward.plans.cache import Entitlement, EntitlementCache
from tokenward.plans.quota import QuotaEngine, QuotaExceeded, QuotaHold
from tokenward.pricing.catalog import CatalogCache, PriceCatalog
from tokenward.proxy.charge import Charge
from tokenward.proxy.context import RequestContext
from tokenward.storage.db import Store

log = logging.getLogger("tokenward.charging")


@dataclass(frozen=True, slots=True)
class Estimate:
    """The request's worst case: prompt tokens and the output it may produce."""

    input_tokens: int
    output_tokens: int


class ChargeStage:
    """Decides `ctx.charge` before the upstream call; see the module docstring."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: BillingSettings,
        catalog: CatalogCache,
        entitlements: EntitlementCache,
        quotas: QuotaEngine,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._catalog = catalog
        self._entitlements = entitlements
        self._quotas = quotas
        self._overdraft = to_micros(parse_amount(settings.overdraft))
        unpriced = settings.unpriced_reservation
        self._unpriced = None if not unpriced else to_micros(parse_amount(unpriced))

    async def entitle(self, ctx: RequestContext, models: tuple[str, str]) -> None:
        """Find the caller's plan before the limits (plan rules and tiers need it); a
        model the plan does not include is a 403 that holds nothing."""
        principal = ctx.principal
        if principal is None:
            raise RuntimeError("the charge stage needs an authenticated request")
        if principal.account_id == CONFIG_ADMIN_ACCOUNT_ID:
            return
        entitlement = await self._entitlements.get(principal.account_id)
        if entitlement is None:
            return
        if not any(entitlement.allows(m) for m in models):
            raise PermissionDenied(f"plan {entitlement.plan} does not include model {models[0]}")
        ctx.entitlement, ctx.plan = entitlement, entitlement.plan
        if not ctx.tier:
            ctx.tier = entitlement.tier

    async def admit(
        self,
        ctx: RequestContext,
        models: tuple[str, str],
        estimate: Callable[[], Estimate],
    ) -> Charge:
        """Set `ctx.charge`, holding quota and credit as needed; raise 402/429.
        `entitle()` must have run first."""
        principal = ctx.principal
        if principal is None:
            raise RuntimeError("the charge stage needs an authenticated request")
        if principal.account_id == CONFIG_ADMIN_ACCOUNT_ID:
            ctx.charge = Charge("none")
            return ctx.charge
        entitlement = ctx.entitlement
        multiplier = Decimal(1)
        if entitlement is not None:
            held = await self._hold_quota(ctx, entitlement, models[0], estimate)
            if held is not None:
                ctx.charge = held
                return held
            multiplier = entitlement.price_multiplier  # overage, paid as you go
        mode = principal.billing_mode  # read with the key, cached with it
        if mode == "prepaid":
            hold = await self._hold_credit(ctx, models, estimate, multiplier)
            ctx.charge = Charge("prepaid", multiplier, credit_hold=hold, entitlement=entitlement)
        else:
            billed: BilledTo = "postpaid" if mode == "postpaid" else "none"
            ctx.charge = Charge(billed, multiplier, entitlement=entitlement)
        return ctx.charge

    async def _hold_quota(
        self,
        ctx: RequestContext,
        entitlement: Entitlement,
        model: str,
        estimate: Callable[[], Estimate],
    ) -> Charge | None:
        """The plan's quota hold, or None when it is exhausted and overage is paid."""
        worst = estimate()
        try:
            hold = await self._quotas.admit(
                entitlement.quota,
                ctx.request_id,
                model,
                ctx.started_at,
                worst.input_tokens + worst.output_tokens,
            )
        except QuotaExceeded:
            if entitlement.overage != "credits":
                raise
            return None
        return Charge("plan", quota_hold=hold, entitlement=entitlement)

    async def _hold_credit(
        self,
        ctx: RequestContext,
        models: tuple[str, str],
        estimate: Callable[[], Estimate],
        multiplier: Decimal,
    ) -> CreditHold:
        catalog = await self._catalog.get()  # trusted for its TTL: no I/O most times
        worst = estimate()
        quoted = _worst_case(catalog, models, ctx, worst, multiplier)
        if quoted is None:
            if self._unpriced is None:
                raise InsufficientCredit(
                    f"model {models[0]} has no price, so a prepaid account cannot use it "
                    "(no credit can be reserved for it)"
                )
            amount, currency = self._unpriced, self._settings.unpriced_currency
        else:
            amount, currency = _ceil_micros(quoted[0]), quoted[1]
        assert ctx.principal is not None
        return await asyncio.to_thread(
            reserve_credit,
            self._store,
            account_id=ctx.principal.account_id,
            request_id=ctx.request_id,
            amount=amount,
            currency=currency,
            at=self._clock.now(),
            lease_s=self._settings.reservation_lease_s,
            overdraft=self._overdraft,
        )

    @asynccontextmanager
    async def hold(self, ctx: RequestContext) -> AsyncIterator[None]:
        """Give back what settle did not consume when the request ends early."""
        try:
            yield
        finally:
            charge = ctx.charge
            if charge is not None and (charge.credit_hold or charge.quota_hold):
                await self.give_back(charge)

    async def commit_quota(self, hold: QuotaHold, actual_tokens: int) -> None:
        """True the plan quota up to the exact usage (after the event is durable)."""
        await _quietly(self._quotas.commit(hold, actual_tokens), "quota true-up")

    async def give_back(self, charge: Charge) -> None:
        """Release the holds of a request that will not be settled (idempotent)."""
        credit, charge.credit_hold = charge.credit_hold, None
        quota, charge.quota_hold = charge.quota_hold, None
        if quota is not None:
            await _quietly(self._quotas.release(quota), "quota hold")
        if credit is not None:
            await _quietly(
                asyncio.to_thread(release, self._store, credit.id, at=self._clock.now()),
                "credit hold",
            )


def _worst_case(
    catalog: PriceCatalog,
    models: tuple[str, str],
    ctx: RequestContext,
    worst: Estimate,
    multiplier: Decimal,
) -> tuple[Decimal, str] | None:
    for model in dict.fromkeys(models):
        quoted = catalog.worst_case_cost(
            model,
            ctx.started_at,
            worst.input_tokens,
            worst.output_tokens,
            multiplier=multiplier,
        )
        if quoted is not None:
            return quoted
    return None


def _ceil_micros(amount: Decimal) -> int:
    return math.ceil(amount * MICROS_PER_UNIT)


async def _quietly(work: Awaitable[object], what: str) -> None:
    """Clean-up must not replace the request's own outcome; a lost hold expires anyway."""
    try:
        await work
    except Exception as exc:  # noqa: BLE001 - logged; the lease/TTL frees it
        log.warning("could not release %s: %s", what, exc)


__all__ = ["ChargeStage", "Estimate"]
