"""Admission: the pipeline stage that reserves a request's share of its limits.

Where the limiter is called in the life of a request:

* `admit()` after validation and routing, before any upstream call: build the
  limits of the key, its account and the model from the rules snapshot, then
  acquire all of them at once, holding 1 request, 1 concurrency slot and
  `input estimate + max_tokens` tokens (the worst case, so Σ actual <= limit when
  the estimate is not below the true prompt). Denied: the 429 (or the fail-closed
  503) is raised with its `Retry-After` and `x-ratelimit-*` headers.
* `hold()` around the upstream call: renews the lease every lease/3, so a long
  stream keeps its slot, and releases whatever was not settled when the request
  ends on an error (a crash of the whole replica is covered by the lease itself).
* `cancel()` when a later stage refuses the request before the upstream call
  (402 for credit, 429 for a plan quota): as if it had never been admitted.
* `true_up()` once the usage event is committed (from the settler): commit the
  actual total tokens, or release the reservation when the upstream failed
  without producing anything.

A request with no applicable rule never reaches the limiter: the rules snapshot
answers "no limits" from memory. The snapshot is reloaded when the rules table
changes, checked at most every `rules_cache_ttl_s` (<= 1 s), so `tokenward limits
set` in another process applies within a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from tokenward.clock import Clock
from tokenward.config.schema import LimitsSettings
from tokenward.errors import StoreError
from tokenward.limits.backend import LimiterBackend
from tokenward.limits.model import Decision, Reservation, ratelimit_headers
from tokenward.limits.rules import RuleBook, load_rules, rules_fingerprint
from tokenward.observability.metrics import Metrics
from tokenward.storage.db import Store

if TYPE_CHECKING:
    from tokenward.proxy.context import RequestContext

log = logging.getLogger("tokenward.limits")

DecisionResult = Literal["admitted", "denied", "fail_open", "fail_closed"]
#: the answer for a request nothing limits: no reservation, no headers
UNLIMITED = Decision(True, ())
#: the snapshot is reloaded from scratch this often even if its fingerprint holds
FULL_RELOAD_S = 60.0


class RuleSource(Protocol):
    """Where admission gets the rules snapshot from."""

    async def book(self) -> RuleBook: ...


class FixedRules:
    """A `RuleSource` that never changes: for tests and embedded use."""

    def __init__(self, book: RuleBook) -> None:
        self._book = book

    async def book(self) -> RuleBook:
        return self._book


class RuleCache:
    """The rules snapshot of the store, trusted for `ttl_s`, then re-checked.

    A re-check costs one tiny query (row count and newest update); the rules are
    read again only when that changed, or every `FULL_RELOAD_S`. Concurrent
    re-checks share one query. If the store fails, the last snapshot stays in force
    (logged), as refusing traffic over a rules read would be worse.
    """

    def __init__(self, store: Store, defaults: LimitsSettings, clock: Clock, ttl_s: float) -> None:
        if not 0 < ttl_s <= 1:
            raise ValueError("the rules cache TTL must be in (0, 1] seconds")
        self._store = store
        self._defaults = defaults
        self._clock = clock
        self._ttl_s = ttl_s
        self._book: RuleBook | None = None
        self._fingerprint: tuple[int, datetime | None] | None = None
        self._fresh_until = float("-inf")
        self._reload_at = float("-inf")
        self._refresh_task: asyncio.Task[RuleBook] | None = None

    async def book(self) -> RuleBook:
        """The current snapshot; waits for a re-check only when the TTL has passed."""
        book = self._book
        if book is not None and self._clock.monotonic() < self._fresh_until:
            return book
        task = self._refresh_task
        if task is None or task.done():
            task = self._refresh_task = asyncio.get_running_loop().create_task(self._refresh())
            task.add_done_callback(_retrieve)
        # shield: one request giving up must not cancel the look-up the others wait on
        return await asyncio.shield(task)

    async def _refresh(self) -> RuleBook:
        started = self._clock.monotonic()
        try:
            if self._book is None or started >= self._reload_at:
                await self._reload(started)
            else:
                fingerprint = await asyncio.to_thread(rules_fingerprint, self._store)
                if fingerprint != self._fingerprint:
                    await self._reload(started)
        except StoreError as exc:
            if self._book is None:
                raise
            log.warning("limit rules not refreshed, keeping the last ones: %s", exc)
        assert self._book is not None
        # the answer is as old as the moment we asked, so the TTL starts there
        self._fresh_until = started + self._ttl_s
        return self._book

    async def _reload(self, started: float) -> None:
        fingerprint, rules = await asyncio.to_thread(load_rules, self._store)
        self._book = RuleBook(rules, self._defaults)
        self._fingerprint = fingerprint
        self._reload_at = started + FULL_RELOAD_S


def _retrieve(task: asyncio.Task[RuleBook]) -> None:
    """Mark a refresh's error as seen: the requests awaiting it got it already."""
    if not task.cancelled():
        task.exception()


class Admission:
    """Reserve before the upstream call, true up after it; see the module docstring.

    >>> admission = Admission(limiter, RuleCache(store, settings.limits, clock, 0.5),
    ...                       settings.limits, metrics)  # doctest: +SKIP
    >>> await admission.admit(ctx, "sim-small", lambda: 120, 256)  # doctest: +SKIP
    """

    def __init__(
        self,
        limiter: LimiterBackend,
        rules: RuleSource,
        settings: LimitsSettings,
        metrics: Metrics,
        *,
        renew_every: float | None = None,
    ) -> None:
        self._limiter = limiter
        self._rules = rules
        self._default_output = settings.default_output_tokens
        self._metrics = metrics
        self._renew_every = settings.lease_s / 3 if renew_every is None else renew_every

    async def admit(
        self,
        ctx: RequestContext,
        model: str,
        input_tokens: Callable[[], int],
        max_output_tokens: int | None,
        choices: int = 1,
    ) -> Decision:
        """Reserve the request's share of every limit that applies, or raise 429 / 503.

        `model` is the configured model name; `input_tokens` is called only when a
        token limit applies; `max_output_tokens` (per choice) None reserves the
        configured default, 0 reserves none (embeddings produce no output tokens).
        """
        principal = ctx.principal
        if principal is None:
            raise RuntimeError("admit() needs an authenticated request")
        book = await self._rules.book()
        if book.empty:
            return UNLIMITED
        specs = book.specs_for(principal, model, ctx.plan or None)
        if not specs:
            return UNLIMITED
        amounts: dict[str, int] = {}
        if any(s.metric == "tokens" for s in specs):
            output = self._default_output if max_output_tokens is None else max_output_tokens
            amounts["tokens"] = input_tokens() + output * choices
        decision = await self._limiter.acquire(ctx.request_id, specs, amounts)
        self._observe(decision)
        for name, value in ratelimit_headers(decision.states).items():
            ctx.response_headers.append((name.encode(), value.encode()))
        if not decision.allowed:
            raise decision.error()
        ctx.reservation = decision.reservation
        return decision

    @asynccontextmanager
    async def hold(self, ctx: RequestContext) -> AsyncIterator[None]:
        """Keep the reservation's lease alive while the body runs; on the way out,
        release it unless `true_up` already settled it."""
        reservation = ctx.reservation
        if reservation is None or reservation.unenforced:
            yield
            return
        keeper = asyncio.get_running_loop().create_task(self._keep_alive(reservation))
        try:
            yield
        finally:
            keeper.cancel()
            leftover, ctx.reservation = ctx.reservation, None
            if leftover is not None:
                await self._limiter.release(leftover)

    async def true_up(self, ctx: RequestContext, total_tokens: int, *, failed: bool) -> None:
        """Replace the estimate by the actual usage; a failure with no usage releases."""
        reservation, ctx.reservation = ctx.reservation, None
        if reservation is None or reservation.unenforced:
            return
        if failed and total_tokens == 0:
            await self._limiter.release(reservation)
        else:
            await self._limiter.commit(reservation, total_tokens)

    async def cancel(self, ctx: RequestContext) -> None:
        """A later stage refused the request before any upstream call (credit, plan
        quota): undo its admission entirely, so a refused request consumes nothing."""
        reservation, ctx.reservation = ctx.reservation, None
        if reservation is None or reservation.unenforced:
            return
        await self._limiter.cancel(reservation)

    async def _keep_alive(self, reservation: Reservation) -> None:
        while True:
            await asyncio.sleep(self._renew_every)
            if await self._limiter.renew(reservation) is None:
                log.warning("lease of %s expired before renewal", reservation.id)
                return

    def _observe(self, decision: Decision) -> None:
        result: DecisionResult
        if decision.allowed:
            unenforced = decision.reservation is not None and decision.reservation.unenforced
            result = "fail_open" if unenforced else "admitted"
        else:
            result = "fail_closed" if decision.reason == "limiter_unavailable" else "denied"
        self._metrics.observe_limiter_decision(result)


__all__ = ["UNLIMITED", "Admission", "DecisionResult", "FixedRules", "RuleCache", "RuleSource"]
