"""Settle: turn a finished request into its usage event and make it durable.

`settle()` returns only once the event is committed (group commit in the writer), and
the relay sends a response's last bytes only after that: a client that received a
complete response therefore always has its event in the ledger, even across `kill -9`.
Then the limiter reservation is trued up to the same usage, before those last bytes,
so a client's next request already sees its concurrency slot free.

Rating happens here, by the price version in force when the request *started*; the
event carries its cost, and the ledger posting of that cost (a credit hold consumed,
or a receivable for postpaid accounts) is written by the event writer in the same
database transaction as the event, so a settled request is charged exactly once.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from tokenward.clock import Clock
from tokenward.ledger.credits import UsageCharge
from tokenward.ledger.model import EventStatus, UsageEvent
from tokenward.ledger.writer import EventWriter, RecordOutcome
from tokenward.limits.admission import Admission
from tokenward.metering.usage import Usage
from tokenward.money import to_micros
from tokenward.observability.metrics import Metrics
from tokenward.pricing.catalog import CatalogCache
from tokenward.pricing.rating import Rating
from tokenward.proxy.charge import Charge
from tokenward.proxy.charging import ChargeStage
from tokenward.proxy.context import RequestContext

log = logging.getLogger("tokenward.settle")


class Settler:
    """Builds usage events and hands them to the writer."""

    def __init__(
        self,
        writer: EventWriter,
        metrics: Metrics,
        clock: Clock,
        admission: Admission | None = None,
        *,
        catalog: CatalogCache | None = None,
        charging: ChargeStage | None = None,
    ) -> None:
        self._writer = writer
        self._metrics = metrics
        self._clock = clock
        self._admission = admission
        self._catalog = catalog
        self._charging = charging

    async def settle(
        self,
        ctx: RequestContext,
        *,
        usage: Usage,
        status: EventStatus,
        http_status: int,
        stream: bool,
    ) -> RecordOutcome:
        """Record the event of `ctx` (idempotent by request id), then true up its limits."""
        principal, deployment = ctx.principal, ctx.deployment
        if principal is None or deployment is None:
            raise RuntimeError("settle() needs an authenticated, routed request")
        charge = ctx.charge
        rating = await self._rate(ctx, deployment.upstream_model, usage, charge)
        event = UsageEvent(
            request_id=ctx.request_id,
            account_id=principal.account_id,
            key_id=principal.key_id,
            route=ctx.route,
            model=ctx.model,
            upstream_model=deployment.upstream_model,
            deployment=deployment.name,
            stream=stream,
            status=status,
            usage=usage,
            started_at=ctx.started_at,
            finished_at=self._clock.now(),
            latency_ms=round((self._clock.monotonic() - ctx.started_mono) * 1000, 3),
            http_status=http_status,
            attempts=ctx.attempts,
            cost=None if rating is None else rating.cost,
            currency="" if rating is None else rating.currency,
            price_version="" if rating is None else rating.version_id,
            price_window="" if rating is None else rating.window,
            billed_to="none" if charge is None else charge.billed_to,
        )
        waited_from = self._clock.monotonic()
        outcome = await self._writer.record(event, _usage_charge(event, charge, rating))
        self._metrics.ledger_wait.observe(self._clock.monotonic() - waited_from)
        if outcome is RecordOutcome.INSERTED:
            self._metrics.observe_event(event)
        elif outcome is RecordOutcome.CONFLICT:
            self._metrics.ledger_conflicts.inc()
            log.warning("usage event %s replayed with different usage; kept the first", event)
        if self._admission is not None and ctx.reservation is not None:
            failed = status is EventStatus.UPSTREAM_ERROR
            await self._admission.true_up(ctx, usage.total_tokens, failed=failed)
        if charge is not None and self._charging is not None:
            await self._settle_holds(charge, outcome, usage)
        return outcome

    async def _rate(
        self, ctx: RequestContext, upstream_model: str, usage: Usage, charge: Charge | None
    ) -> Rating | None:
        """The cost by the version in force at the request's start; None: no price.
        (The catalog is re-checked every TTL, so a version published at least that
        long before its `effective_from` prices every request started after it.)"""
        if self._catalog is None:
            return None
        catalog = await self._catalog.get()
        multiplier = charge.multiplier if charge is not None else Decimal(1)
        for model in dict.fromkeys((ctx.model, upstream_model)):
            rating = catalog.rate(model, usage, ctx.started_at, multiplier=multiplier)
            if rating is not None:
                return rating
        return None

    async def _settle_holds(self, charge: Charge, outcome: RecordOutcome, usage: Usage) -> None:
        """The writer consumed the credit hold with the event; true up the quota."""
        assert self._charging is not None
        if outcome is RecordOutcome.INSERTED:
            charge.credit_hold = None  # consumed by the ledger posting
            quota, charge.quota_hold = charge.quota_hold, None
            if quota is not None:
                await self._charging.commit_quota(quota, usage.total_tokens)
        # a replay (duplicate or conflict) posted nothing: give the holds back
        await self._charging.give_back(charge)


def _usage_charge(
    event: UsageEvent, charge: Charge | None, rating: Rating | None
) -> UsageCharge | None:
    """What the ledger posts with the event: pay-as-you-go usage only (a plan's quota
    covers its own usage; the admin's traffic is free)."""
    if charge is None or charge.billed_to not in ("prepaid", "postpaid"):
        return None
    hold = charge.credit_hold
    if rating is None and hold is None:
        return None  # no price and nothing held: nothing to post
    currency = hold.currency if hold is not None else event.currency
    cost = 0 if rating is None else to_micros(rating.cost)
    return UsageCharge(
        request_id=event.request_id,
        account_id=event.account_id,
        currency=currency,
        cost=cost,
        billed_to=charge.billed_to,
        hold_id=None if hold is None else hold.id,
        at=event.finished_at,
        details={
            "model": event.model,
            "price_version": event.price_version,
            "price_window": event.price_window,
            "cost": cost,
            "hold": 0 if hold is None else hold.amount,
            "billed_to": charge.billed_to,
        },
    )


__all__ = ["Settler"]
