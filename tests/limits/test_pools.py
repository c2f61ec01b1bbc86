"""Capacity pools: the tiered queue, shedding, the token bucket, and bad input.

Concurrency pools never read time except for the wait they report, so most tests
run on a `FakeClock`; the waits that end by timer use short real delays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.clock import FakeClock, SystemClock
from tokenward.config.schema import (
    DatabaseSettings,
    LimitsSettings,
    ModelSettings,
    ProviderSettings,
    ServerSettings,
    Settings,
    SimulatorSettings,
)
from tokenward.errors import ConfigError, RateLimited
from tokenward.limits.pools import (
    CapacityPool,
    CapacityPools,
    PoolSlot,
    PoolSpec,
    TierPolicy,
    build_pools,
)
from tokenward.observability import Metrics

TIERS = ("gold", "silver", "bronze")


def policy(wait: float = 60.0, queue: int = 100, **waits: float) -> TierPolicy:
    return TierPolicy.build(TIERS, "", wait, waits, queue)


def pool(
    concurrency: int | None = 1,
    tps: int | None = None,
    *,
    tiers: TierPolicy | None = None,
    clock: Any = None,
    observer: Any = None,
) -> CapacityPool:
    return CapacityPool(
        PoolSpec("sim/sim-small", concurrency, tps),
        tiers or policy(),
        clock or FakeClock(),
        observer,
    )


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())


async def settle() -> None:
    """Let every ready task run (grants resolve futures; waiters wake next turn)."""
    for _ in range(5):
        await asyncio.sleep(0)


@dataclass
class Waiting:
    """Requests started on the pool, by label, and what became of them."""

    pool: CapacityPool
    tasks: dict[str, asyncio.Task[PoolSlot]] = field(default_factory=dict)

    def start(self, label: str, tier: str, tokens: int = 0) -> None:
        self.tasks[label] = asyncio.ensure_future(self.pool.acquire(tier, tokens))

    def granted(self) -> list[str]:
        return [k for k, t in self.tasks.items() if t.done() and t.exception() is None]

    def shed(self) -> list[str]:
        return [
            k for k, t in self.tasks.items() if t.done() and isinstance(t.exception(), RateLimited)
        ]

    def slot(self, label: str) -> PoolSlot:
        return self.tasks[label].result()


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "tps", "message"),
    [
        (0, None, "max_concurrency must be a whole number >= 1"),
        (-3, None, "max_concurrency must be a whole number >= 1"),
        (None, 0, "tokens_per_second must be a whole number >= 1"),
        (2, -1, "tokens_per_second must be a whole number >= 1"),
        (None, None, "set max_concurrency and/or tokens_per_second"),
    ],
)
def test_bad_pool_sizes_are_clear_config_errors(
    concurrency: int | None, tps: int | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        PoolSpec("sim/sim-small", concurrency, tps)


@pytest.mark.parametrize("field_name", ["max_concurrency", "tokens_per_second"])
@pytest.mark.parametrize("value", [0, -1])
def test_a_model_entry_refuses_zero_or_negative_pool_sizes(field_name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"model m: {field_name} must be >= 1"):
        ModelSettings(name="m", provider="p", upstream_model="u", **{field_name: value})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tiers": ("gold", "bronze"), "default_tier": "silver"}, "default tier 'silver'"),
        ({"tiers": ("Gold",)}, "invalid tier name 'Gold'"),
        ({"tiers": ("gold", "gold")}, "tier names must be unique"),
        ({"tiers": ("gold",), "tier_max_wait_s": {"platinum": 1.0}}, "unknown tier.*platinum"),
        ({"pool_max_wait_s": -1.0}, "must be in \\[0, 3600\\]"),
        ({"pool_max_queue": 0}, "max queue must be in"),
        ({"tiers": ("gold",), "tier_max_wait_s": {"gold": "soon"}}, "must be a number"),
    ],
)
def test_bad_tier_settings_are_clear_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^limits: .*{message}"):
        LimitsSettings(**kwargs)


def test_tier_policy_defaults() -> None:
    assert TierPolicy.build().tiers == ("default",)
    built = TierPolicy.build(TIERS, "", 5.0, {"gold": 1.0})
    assert built.default_tier == "bronze"  # no default named: the lowest tier
    assert built.max_wait_s == (1.0, 5.0, 5.0)
    assert built.rank("") == built.rank("bronze") == 2
    assert built.rank("retired-tier") == 2  # a tier no longer configured: the default


def settings_with(*models: ModelSettings, limits: LimitsSettings | None = None) -> Settings:
    return Settings(
        home=Path("."),
        database=DatabaseSettings(url="sqlite:///:memory:"),
        server=ServerSettings(),
        simulator=SimulatorSettings(),
        providers=(ProviderSettings(name="sim", kind="simulator"),),
        models=models,
        limits=limits or LimitsSettings(),
    )


def test_build_pools_from_the_model_entries() -> None:
    small = ModelSettings(name="a", provider="sim", upstream_model="s", max_concurrency=4)
    alias = ModelSettings(name="b", provider="sim", upstream_model="s", max_concurrency=4)
    free = ModelSettings(name="c", provider="sim", upstream_model="free")
    pools = build_pools(settings_with(small, alias, free), FakeClock())
    assert len(pools) == 1
    found = pools.get("sim/s")
    assert found is not None and found.spec.max_concurrency == 4
    assert pools.get("sim/free") is None
    clash = ModelSettings(name="d", provider="sim", upstream_model="s", max_concurrency=5)
    with pytest.raises(ConfigError, match="configured twice with different pool sizes"):
        build_pools(settings_with(small, clash), FakeClock())


# -- the queue ------------------------------------------------------------------------


def test_slots_are_granted_at_once_until_the_pool_is_full_and_released_once() -> None:
    async def body() -> None:
        p = pool(2)
        a = await p.acquire("gold")
        b = await p.acquire("bronze")
        assert p.in_use == 2 and p.utilisation() == 1.0
        a.release()
        a.release()  # idempotent
        assert p.in_use == 1
        b.release()
        assert p.in_use == 0 and p.queued() == 0

    run(body)


def test_higher_tiers_first_and_fifo_within_a_tier() -> None:
    async def body() -> None:
        p = pool(1)
        w = Waiting(p)
        held = await p.acquire("bronze")
        for label, tier in [("b1", "bronze"), ("s1", "silver"), ("b2", "bronze"), ("g1", "gold")]:
            w.start(label, tier)
            await settle()
        w.start("g2", "gold")
        w.start("", "")  # no tier: the default (lowest)
        await settle()
        assert p.queued("gold") == 2 and p.queued("bronze") == 3
        order = []
        current = held
        for _ in range(6):
            current.release()
            await settle()
            [label] = [k for k in w.granted() if k not in order]
            order.append(label)
            current = w.slot(label)
        assert order == ["g1", "g2", "s1", "b1", "b2", ""]
        assert w.slot("g1").tier == "gold" and w.slot("").tier == "bronze"

    run(body)


def test_a_full_queue_evicts_the_youngest_lowest_tier_waiter() -> None:
    async def body() -> None:
        p = pool(1, tiers=policy(queue=3))
        w = Waiting(p)
        held = await p.acquire("gold")
        for label, tier in [("b1", "bronze"), ("s1", "silver"), ("b2", "bronze")]:
            w.start(label, tier)
            await settle()
        w.start("g1", "gold")  # full: b2 (youngest bronze) makes room
        await settle()
        assert w.shed() == ["b2"]
        w.start("s2", "silver")  # full again: b1, the last bronze, goes
        await settle()
        assert w.shed() == ["b1", "b2"]
        w.start("s3", "silver")  # only gold and silver queued: the newcomer is shed
        await settle()
        assert w.shed() == ["b1", "b2", "s3"]
        error = w.tasks["b2"].exception()
        assert isinstance(error, RateLimited) and error.retry_after >= 1
        assert "capacity pool of deployment sim/sim-small is saturated" in error.message
        assert "higher tier" in error.message
        queue_full = w.tasks["s3"].exception()
        assert isinstance(queue_full, RateLimited) and "queue is full" in queue_full.message
        held.release()
        await settle()
        assert w.granted() == ["g1"]
        w.slot("g1").release()
        await settle()
        assert w.granted() == ["s1", "g1"]

    run(body)


def test_a_waiter_gives_up_after_its_tiers_max_wait() -> None:
    async def body() -> None:
        p = pool(1, tiers=policy(wait=5.0, bronze=0.05), clock=SystemClock())
        held = await p.acquire("gold")
        with pytest.raises(RateLimited, match=r"no slot within 0\.05 s") as caught:
            await p.acquire("bronze")
        assert caught.value.retry_after >= 1
        assert p.queued() == 0
        gold = asyncio.ensure_future(p.acquire("gold"))
        await asyncio.sleep(0.08)
        assert not gold.done()  # gold waits up to 5 s
        held.release()
        slot = await gold
        assert slot.waited_s >= 0.05

    run(body)


def test_a_tier_that_does_not_wait_is_shed_at_once_but_served_when_there_is_room() -> None:
    async def body() -> None:
        p = pool(1, tiers=policy(bronze=0.0))
        first = await p.acquire("bronze")
        with pytest.raises(RateLimited, match="tier bronze does not wait"):
            await p.acquire("bronze")
        first.release()

    run(body)


def test_a_cancelled_waiter_leaves_the_queue_and_never_leaks_a_slot() -> None:
    async def body() -> None:
        p = pool(1)
        held = await p.acquire("gold")
        waiting = asyncio.ensure_future(p.acquire("bronze"))
        await settle()
        assert p.queued() == 1
        waiting.cancel()
        await settle()
        assert p.queued() == 0
        # granted and cancelled in the same instant: the slot goes back
        racing = asyncio.ensure_future(p.acquire("bronze"))
        await settle()
        held.release()  # grants `racing`'s future...
        racing.cancel()  # ...but its task is cancelled before it resumes
        await settle()
        assert racing.cancelled() and p.in_use == 0

    run(body)


# -- tokens per second ----------------------------------------------------------------


def test_the_token_bucket_charges_the_estimate_and_trues_up_on_release() -> None:
    async def body() -> None:
        clock = FakeClock()
        p = pool(None, 100, clock=clock)
        a = await p.acquire("gold", 100)  # one second's worth at once
        assert p.utilisation() == 1.0
        a.release(40)  # used 40 of the 100 reserved: 60 come back
        b = await p.acquire("gold", 60)
        b.release(None)  # no usage known: the estimate stays charged
        assert p.utilisation() == 1.0
        clock.advance(1.0)  # refilled to one second's worth, never more
        big = await p.acquire("gold", 500)  # larger than the bucket: passes when full
        big.release(500)
        assert p.utilisation() == 1.0  # in debt: 100 - 500
        waiting = asyncio.ensure_future(p.acquire("gold", 10))
        await settle()
        assert not waiting.done() and p.queued() == 1
        waiting.cancel()
        await settle()
        assert p.queued() == 0
        clock.advance(4.1)  # the debt is repaid by the refill
        small = await p.acquire("gold", 10)
        small.release(10)

    run(body)


def test_a_token_pool_waits_for_its_refill() -> None:
    async def body() -> None:
        p = pool(None, 1000, clock=SystemClock())
        first = await p.acquire("gold", 1000)
        started = asyncio.get_running_loop().time()
        second = await p.acquire("gold", 50)  # 50 tokens refill in 50 ms
        elapsed = asyncio.get_running_loop().time() - started
        assert 0.03 <= elapsed < 1.0 and second.waited_s > 0
        first.release(1000)
        second.release(50)

    run(body)


# -- metrics --------------------------------------------------------------------------


def test_waits_sheds_and_gauges_reach_metrics() -> None:
    async def body() -> None:
        metrics = Metrics()
        p = pool(1, tiers=policy(queue=1), observer=metrics)
        pools = CapacityPools([p])
        metrics.watch_pools(pools.stats)
        held = await p.acquire("gold")
        waiting = asyncio.ensure_future(p.acquire("bronze"))
        await settle()
        silver = asyncio.ensure_future(p.acquire("silver"))  # evicts the bronze waiter
        with pytest.raises(RateLimited):
            await waiting
        text = metrics.render().decode()
        assert 'tokenward_pool_in_use{pool="sim/sim-small"} 1.0' in text
        assert 'tokenward_pool_utilisation{pool="sim/sim-small"} 1.0' in text
        assert 'tokenward_pool_queue_depth{pool="sim/sim-small",tier="silver"} 1.0' in text
        assert (
            'tokenward_pool_sheds_total{pool="sim/sim-small",reason="evicted",tier="bronze"} 1.0'
            in text
        )
        assert 'tokenward_pool_wait_seconds_count{pool="sim/sim-small",tier="gold"} 1.0' in text
        held.release()
        (await silver).release()

    run(body)


# -- invariants over random traffic ---------------------------------------------------


class Auditor:
    """Checks, at every grant and shed, the two promises of the tiered queue."""

    def __init__(self) -> None:
        self.pool: CapacityPool | None = None
        self.violations: list[str] = []

    def observe_pool_wait(self, pool: str, tier: str, seconds: float) -> None:
        assert self.pool is not None
        rank = TIERS.index(tier)
        if any(self.pool.queued(t) for t in TIERS[:rank]):
            self.violations.append(f"{tier} served while a higher tier waits")

    def observe_pool_shed(self, pool: str, tier: str, reason: str) -> None:
        assert self.pool is not None
        rank = TIERS.index(tier)
        if any(self.pool.queued(t) for t in TIERS[rank + 1 :]):
            self.violations.append(f"{tier} shed ({reason}) while a lower tier waits")


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 3),
    queue=st.integers(1, 4),
    steps=st.lists(st.one_of(st.sampled_from(TIERS), st.just("release")), max_size=40),
)
def test_never_serve_below_a_waiting_tier_nor_shed_above_a_waiting_tier(
    capacity: int, queue: int, steps: list[str]
) -> None:
    async def body() -> None:
        auditor = Auditor()
        p = pool(capacity, tiers=policy(queue=queue), observer=auditor)
        auditor.pool = p
        arrivals: list[tuple[str, asyncio.Task[PoolSlot]]] = []
        held: list[PoolSlot] = []
        for step in steps:
            if step == "release":
                if held:
                    held.pop(0).release()
            else:
                arrivals.append((step, asyncio.ensure_future(p.acquire(step))))
            await settle()
            for _, task in arrivals:
                if (
                    task.done()
                    and task.exception() is None
                    and task.result() not in held
                    and not task.result().released
                ):
                    held.append(task.result())
            assert p.in_use <= capacity
            assert p.queued() <= queue
            # FIFO within a tier: a granted request's elders of its tier are all decided
            for tier in TIERS:
                mine = [task for name, task in arrivals if name == tier]
                decided = [task.done() for task in mine]
                granted = [i for i, t in enumerate(mine) if t.done() and not t.exception()]
                if granted:
                    assert all(decided[: granted[-1]])
        assert auditor.violations == []
        for _, task in arrivals:
            task.cancel()
        await settle()

    run(body)
