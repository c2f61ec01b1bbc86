"""Settle: turn a finished request into its usage event and make it durable.

`settle()` returns only once the event is committed (group commit in the writer), and
the relay sends a response's last bytes only after that: a client that received a
complete response therefore always has its event in the ledger, even across `kill -9`.
Then the limiter reservation is trued up to the same usage, before those last bytes,
so a client's next request already sees its concurrency slot free.
"""

from __future__ import annotations

import logging

from tokenward.clock import Clock
from tokenward.ledger.model import EventStatus, UsageEvent
from tokenward.ledger.writer import EventWriter, RecordOutcome
from tokenward.limits.admission import Admission
from tokenward.metering.usage import Usage
from tokenward.observability.metrics import Metrics
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
    ) -> None:
        self._writer = writer
        self._metrics = metrics
        self._clock = clock
        self._admission = admission

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
        )
        waited_from = self._clock.monotonic()
        outcome = await self._writer.record(event)
        self._metrics.ledger_wait.observe(self._clock.monotonic() - waited_from)
        if outcome is RecordOutcome.INSERTED:
            self._metrics.observe_event(event)
        elif outcome is RecordOutcome.CONFLICT:
            self._metrics.ledger_conflicts.inc()
            log.warning("usage event %s replayed with different usage; kept the first", event)
        if self._admission is not None and ctx.reservation is not None:
            failed = status is EventStatus.UPSTREAM_ERROR
            await self._admission.true_up(ctx, usage.total_tokens, failed=failed)
        return outcome


__all__ = ["Settler"]
