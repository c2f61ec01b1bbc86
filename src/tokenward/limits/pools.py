"""Capacity pools: protect each upstream deployment, serving the higher tiers first.

A deployment's pool caps what the gateway sends it at once (`max_concurrency`) and
per second (`tokens_per_second`, a token bucket holding one second of tokens, so a
burst may take one second's worth at once). Every upstream attempt takes a slot
before the call and gives it back when the attempt ends: success, error, client
disconnect, or the end of a drained stream (`PoolSlot.release`, idempotent).

When the pool is saturated, a request waits in a bounded priority queue:

* strict priority between tiers (configured order, highest first), FIFO within a
  tier; the head of the queue is served first, and nobody overtakes it;
* a waiter gives up after its tier's `max_wait_s` (0: never wait) with a 429;
* the queue holds at most `max_queue` waiters: a newcomer to a full queue evicts
  the youngest waiter of the lowest tier below its own (that waiter gets the 429),
  or is shed itself when nobody queued is below it. So a higher tier is never shed
  while a lower tier waits, and a lower tier is never served while a higher one
  waits.

Tokens: the bucket is charged the request's estimate (prompt + max_tokens) when the
slot is granted and trued up to the actual usage on release; it may go below zero
(debt repaid by the refill), so a request larger than one second's worth still
passes once the bucket is full.

Scope: a pool is per gateway process. With N replicas (or workers), give each
replica its share of the deployment's capacity (max_concurrency / N), or use a
Redis concurrency limit on the model (`tokenward limits set --model`) for an exact
global cap. Time: waits and the bucket read `clock.monotonic()`; the timers that
end a wait run on the event loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from tokenward.clock import Clock
from tokenward.errors import ConfigError, RateLimited
from tokenward.limits.tiers import DEFAULT_TIER, TierPolicy, check_tiers

if TYPE_CHECKING:
    from tokenward.config.schema import Settings
    from tokenward.observability.metrics import Metrics

ShedReason = Literal["queue_full", "evicted", "timeout", "no_wait"]
#: Retry-After of a concurrency shed: a slot frees whenever a request ends
CONCURRENCY_RETRY_S = 1.0


class PoolObserver(Protocol):
    """Where waits and sheds are reported (`observability.Metrics` implements it)."""

    def observe_pool_wait(self, pool: str, tier: str, seconds: float) -> None: ...

    def observe_pool_shed(self, pool: str, tier: str, reason: str) -> None: ...


class NullObserver:
    """Reports nothing (tests, embedded use)."""

    def observe_pool_wait(self, pool: str, tier: str, seconds: float) -> None:
        return None

    def observe_pool_shed(self, pool: str, tier: str, reason: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """One deployment's capacity: at least one of the two must be set."""

    name: str
    max_concurrency: int | None = None
    tokens_per_second: int | None = None

    def __post_init__(self) -> None:
        for what in ("max_concurrency", "tokens_per_second"):
            value = getattr(self, what)
            if value is not None and (type(value) is not int or value < 1):
                raise ConfigError(
                    f"pool {self.name}: {what} must be a whole number >= 1 "
                    f"(leave it unset for no cap), got {value!r}"
                )
        if self.max_concurrency is None and self.tokens_per_second is None:
            raise ConfigError(f"pool {self.name}: set max_concurrency and/or tokens_per_second")


@dataclass(eq=False, slots=True)
class _Waiter:
    rank: int
    tokens: int
    enqueued: float
    future: asyncio.Future[PoolSlot]
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False, slots=True)
class PoolSlot:
    """One granted place in a pool; give it back with `release` (idempotent)."""

    pool: CapacityPool
    tier: str
    tokens: int
    waited_s: float
    released: bool = field(default=False)

    def release(self, actual_tokens: int | None = None) -> None:
        """Free the slot; the bucket is trued up to `actual_tokens` (None: the estimate)."""
        if not self.released:
            self.released = True
            self.pool._release(self, actual_tokens)


class CapacityPool:
    """A deployment's concurrency and tokens/s, with the tiered queue described above."""

    def __init__(
        self,
        spec: PoolSpec,
        policy: TierPolicy,
        clock: Clock,
        observer: PoolObserver | None = None,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self._clock = clock
        self._observer = observer or NullObserver()
        self.in_use = 0
        self._rate = spec.tokens_per_second
        self._level = float(spec.tokens_per_second or 0)
        self._refilled_at = clock.monotonic()
        self._queues: list[deque[_Waiter]] = [deque() for _ in policy.tiers]
        self._wake: asyncio.TimerHandle | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def queued(self, tier: str | None = None) -> int:
        """Waiters of `tier`, or of every tier."""
        if tier is not None:
            return len(self._queues[self.policy.tiers.index(tier)])
        return sum(len(q) for q in self._queues)

    def utilisation(self) -> float:
        """The busier of the two caps, 0..1 (the bucket counts its debt as full use)."""
        used = 0.0
        if self.spec.max_concurrency is not None:
            used = self.in_use / self.spec.max_concurrency
        if self._rate is not None:
            self._refill()
            used = max(used, 1.0 - max(self._level, 0.0) / self._rate)
        return min(used, 1.0)

    async def acquire(self, tier: str, tokens: int = 0) -> PoolSlot:
        """A slot, at once or after queueing; `RateLimited` (429) when shed."""
        rank = self.policy.rank(tier)
        name = self.policy.tiers[rank]
        tokens = max(int(tokens), 0)
        # nobody of this tier or above waits: it may go now (strict priority)
        if not any(self._queues[: rank + 1]) and self._fits(tokens):
            return self._grant(name, tokens, 0.0)
        wait = self.policy.max_wait_s[rank]
        if wait <= 0:
            raise self._shed(name, "no_wait", tokens)
        if self.queued() >= self.policy.max_queue:
            self._evict_below(rank, name, tokens)
        waiter = _Waiter(
            rank, tokens, self._clock.monotonic(), asyncio.get_running_loop().create_future()
        )
        waiter.timer = asyncio.get_running_loop().call_later(wait, self._expire, waiter)
        self._queues[rank].append(waiter)
        self._dispatch()  # the head may fit now (e.g. it is this waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise

    # -- internals ---------------------------------------------------------------------

    def _fits(self, tokens: int) -> bool:
        cap = self.spec.max_concurrency
        if cap is not None and self.in_use >= cap:
            return False
        if self._rate is not None:
            self._refill()
            return self._level >= min(tokens, self._rate)
        return True

    def _refill(self) -> None:
        assert self._rate is not None
        now = self._clock.monotonic()
        self._level = min(float(self._rate), self._level + (now - self._refilled_at) * self._rate)
        self._refilled_at = now

    def _grant(self, tier: str, tokens: int, waited: float) -> PoolSlot:
        self.in_use += 1
        if self._rate is not None:
            self._level -= tokens
        self._observer.observe_pool_wait(self.name, tier, waited)
        return PoolSlot(self, tier, tokens, waited)

    def _release(self, slot: PoolSlot, actual_tokens: int | None) -> None:
        self.in_use -= 1
        if self._rate is not None and actual_tokens is not None:
            self._refill()
            self._level += slot.tokens - max(actual_tokens, 0)
            self._level = min(self._level, float(self._rate))
        self._dispatch()

    def _dispatch(self) -> None:
        """Serve the queue head while it fits; wake up later if only tokens are short."""
        while True:
            head_queue = next((q for q in self._queues if q), None)
            if head_queue is None:
                return
            head = head_queue[0]
            if not self._fits(head.tokens):
                self._schedule_refill(head.tokens)
                return
            head_queue.popleft()
            if head.timer is not None:
                head.timer.cancel()
            waited = max(self._clock.monotonic() - head.enqueued, 0.0)
            head.future.set_result(self._grant(self.policy.tiers[head.rank], head.tokens, waited))

    def _schedule_refill(self, tokens: int) -> None:
        cap = self.spec.max_concurrency
        if self._rate is None or (cap is not None and self.in_use >= cap) or self._wake:
            return  # a release will dispatch, or a wake-up is already set
        deficit = min(tokens, self._rate) - self._level
        delay = max(deficit / self._rate, 0.001)
        self._wake = asyncio.get_running_loop().call_later(delay, self._woken)

    def _woken(self) -> None:
        self._wake = None
        self._dispatch()

    def _evict_below(self, rank: int, tier: str, tokens: int) -> None:
        """Make room for a newcomer of `rank`: evict the youngest lowest-tier waiter
        below it, or shed the newcomer."""
        for lower in range(len(self._queues) - 1, rank, -1):
            if self._queues[lower]:
                victim = self._queues[lower].pop()
                self._drop(victim, "evicted")
                return
        raise self._shed(tier, "queue_full", tokens)

    def _expire(self, waiter: _Waiter) -> None:
        queue = self._queues[waiter.rank]
        if waiter.future.done() or waiter not in queue:
            return
        queue.remove(waiter)
        self._drop(waiter, "timeout")
        self._dispatch()  # the head may have changed

    def _drop(self, waiter: _Waiter, reason: ShedReason) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        if not waiter.future.done():
            waiter.future.set_exception(
                self._shed(self.policy.tiers[waiter.rank], reason, waiter.tokens)
            )

    def _abandon(self, waiter: _Waiter) -> None:
        """The waiting request was cancelled (client gone): leave the queue, or hand
        back the slot granted in the same instant."""
        if waiter.timer is not None:
            waiter.timer.cancel()
        queue = self._queues[waiter.rank]
        if waiter in queue:
            queue.remove(waiter)
            self._dispatch()
        elif (
            waiter.future.done()
            and not waiter.future.cancelled()
            and waiter.future.exception() is None
        ):
            waiter.future.result().release(0)

    def _shed(self, tier: str, reason: ShedReason, tokens: int) -> RateLimited:
        self._observer.observe_pool_shed(self.name, tier, reason)
        retry = CONCURRENCY_RETRY_S
        if self._rate is not None:
            retry = max(retry, (min(tokens, self._rate) - self._level) / self._rate)
        why = {
            "queue_full": "its queue is full",
            "evicted": "a higher tier took the place in its queue",
            "timeout": f"no slot within {self.policy.max_wait_s[self.policy.rank(tier)]:g} s",
            "no_wait": f"tier {tier} does not wait",
        }[reason]
        return RateLimited(
            f"capacity pool of deployment {self.name} is saturated "
            f"(tier {tier}: {why}); retry later",
            retry_after=retry,
        )


class CapacityPools:
    """The pools of every deployment that has one, by deployment name."""

    def __init__(self, pools: Iterable[CapacityPool] = ()) -> None:
        self._pools = {p.name: p for p in pools}

    @classmethod
    def build(
        cls,
        specs: Iterable[PoolSpec],
        policy: TierPolicy,
        clock: Clock,
        observer: PoolObserver | None = None,
    ) -> CapacityPools:
        """One pool per deployment; two specs for one deployment must agree."""
        seen: dict[str, PoolSpec] = {}
        for spec in specs:
            if spec.name in seen and seen[spec.name] != spec:
                raise ConfigError(
                    f"deployment {spec.name} is configured twice with different pool sizes"
                )
            seen[spec.name] = spec
        return cls(CapacityPool(s, policy, clock, observer) for s in seen.values())

    def get(self, deployment: str) -> CapacityPool | None:
        return self._pools.get(deployment)

    def __iter__(self) -> Iterator[CapacityPool]:
        return iter(self._pools.values())

    def __len__(self) -> int:
        return len(self._pools)

    def stats(self) -> list[PoolStats]:
        """A snapshot for /metrics."""
        return [
            PoolStats(
                p.name,
                p.in_use,
                p.spec.max_concurrency,
                p.utilisation(),
                {t: p.queued(t) for t in p.policy.tiers},
            )
            for p in self._pools.values()
        ]


@dataclass(frozen=True, slots=True)
class PoolStats:
    """What /metrics shows of one pool at scrape time."""

    name: str
    in_use: int
    max_concurrency: int | None
    utilisation: float
    queued: Mapping[str, int]


PoolStatsSource = Callable[[], list[PoolStats]]


def build_pools(settings: Settings, clock: Clock, observer: Metrics | None = None) -> CapacityPools:
    """The pools of the configured deployments (`[[models]]` entries with
    `max_concurrency` and/or `tokens_per_second`), exported to /metrics."""
    specs = [
        PoolSpec(f"{m.provider}/{m.upstream_model}", m.max_concurrency, m.tokens_per_second)
        for m in settings.models
        if m.max_concurrency is not None or m.tokens_per_second is not None
    ]
    pools = CapacityPools.build(specs, settings.limits.tier_policy(), clock, observer)
    if observer is not None:
        observer.watch_pools(pools.stats)
    return pools


__all__ = [
    "CONCURRENCY_RETRY_S",
    "DEFAULT_TIER",
    "CapacityPool",
    "CapacityPools",
    "NullObserver",
    "PoolObserver",
    "PoolSlot",
    "PoolSpec",
    "PoolStats",
    "PoolStatsSource",
    "ShedReason",
    "TierPolicy",
    "build_pools",
    "check_tiers",
]
