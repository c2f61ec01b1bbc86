"""Capacity pools end to end: a real gateway, the simulator as a slow upstream.

The deployment `sim/sim-small` has a pool of 4 concurrent attempts; keys carry their
tier (`tokenward keys create --tier`). Bronze floods the pool while gold arrives at
a steady pace: gold is served within its bound, bronze is queued or shed first, and
every shed is a 429 with `Retry-After`, never a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Gateway, Simulator, make_gateway
from tokenward.auth import service
from tokenward.clock import SystemClock
from tokenward.config import load_settings
from tokenward.errors import InvalidRequest
from tokenward.storage import migrated_store

pytestmark = pytest.mark.slow

CAPACITY = 4
TIERS = ("gold", "silver", "bronze")
GOLD_MAX_WAIT = 1.5
#: gold's p95 queue wait must stay under this (one stream's length is ~0.3 s)
GOLD_P95_BOUND = 1.0


def pool_config(path: Path, upstream: str) -> None:
    path.write_text(
        "\n".join(
            [
                "[providers.sim]",
                'kind = "openai"',
                f'base_url = "{upstream}/v1"',
                "timeout_s = 30",
                "[[models]]",
                'name = "sim-small"',
                'provider = "sim"',
                'upstream_model = "sim-small"',
                f"max_concurrency = {CAPACITY}",
                "[limits]",
                'tiers = ["gold", "silver", "bronze"]',
                "pool_max_wait_s = 2.0",
                "pool_max_queue = 12",
                "[limits.tier_max_wait_s]",
                f"gold = {GOLD_MAX_WAIT}",
                "bronze = 1.0",
            ]
        )
        + "\n"
    )


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory, simulator: Simulator) -> Any:
    gateway = make_gateway(tmp_path_factory.mktemp("pools"), simulator)
    pool_config(gateway.config, simulator.url)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def tiered_key(gateway: Gateway, account: str, tier: str) -> str:
    """A key of `tier`, written straight into the gateway's database (the CLI path,
    which costs a process start per call, is tested below)."""
    settings = load_settings(gateway.config, env=gateway.env)
    clock = SystemClock()
    with migrated_store(settings.database) as store:
        with contextlib.suppress(InvalidRequest):  # the account exists
            service.create_account(store, account, clock=clock, actor="test")
        _, plaintext = service.create_key(
            store, account, "k", clock=clock, actor="test", tier=tier, tiers=TIERS
        )
    return plaintext


async def stream(
    client: httpx.AsyncClient, gateway: Gateway, key: str, tag: str
) -> tuple[int, float, httpx.Headers, str]:
    """Status, seconds to the response head (the queue wait, mostly), headers, body."""
    body = {
        "model": "sim-small",
        "messages": [{"role": "user", "content": "tell me about capacity"}],
        "max_tokens": 10,
        "stream": True,
        "metadata": {"sim_output_tokens": "10", "sim_chunk_delay_ms": "30", "sim_tag": tag},
    }
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}"}
    async with client.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers
    ) as response:
        head = time.monotonic() - started
        raw = (await response.aread()).decode()
    return response.status_code, head, response.headers, raw


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def test_gold_is_served_within_its_bound_while_bronze_is_queued_or_shed(
    pooled: Gateway, simulator: Simulator
) -> None:
    gold = tiered_key(pooled, "gold-co", "gold")
    bronze = tiered_key(pooled, "bronze-co", "bronze")

    async def traffic() -> tuple[list[Any], list[Any]]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
            flood = [
                asyncio.ensure_future(stream(client, pooled, bronze, "pool-bronze"))
                for _ in range(60)
            ]
            await asyncio.sleep(0.2)  # the pool is saturated and bronze fills the queue
            golds = []
            for _ in range(16):  # 8 gold per second, about 2/3 of the pool's capacity
                golds.append(asyncio.ensure_future(stream(client, pooled, gold, "pool-gold")))
                await asyncio.sleep(0.125)
            return list(await asyncio.gather(*golds)), list(await asyncio.gather(*flood))

    gold_replies, bronze_replies = asyncio.run(traffic())
    everything = gold_replies + bronze_replies
    assert all(status in (200, 429) for status, *_ in everything), [s for s, *_ in everything]
    # gold: never shed, and its p95 wait within the bound
    assert [status for status, *_ in gold_replies] == [200] * len(gold_replies)
    assert p95([head for _, head, *_ in gold_replies]) < GOLD_P95_BOUND
    assert all("[DONE]" in raw for status, _, _, raw in everything if status == 200)
    # bronze: some served, the rest shed with a clear 429 and Retry-After
    bronze_statuses = [status for status, *_ in bronze_replies]
    assert bronze_statuses.count(429) > 0 and bronze_statuses.count(200) >= CAPACITY
    for status, _, headers, raw in bronze_replies:
        if status == 429:
            assert int(headers["retry-after"]) >= 1
            error = json.loads(raw)["error"]
            assert "capacity pool of deployment sim/sim-small is saturated" in error["message"]
            assert "tier bronze" in error["message"]
    # the upstream never saw more than the pool allows
    tags = simulator.stats()["tags"]
    peak = max(tags["pool-gold"]["peak_in_flight"], tags["pool-bronze"]["peak_in_flight"])
    assert peak <= CAPACITY
    assert tags["pool-gold"]["requests"] == len(gold_replies)
    # /metrics: sheds by tier (bronze only), waits by tier, gauges back to idle
    text = httpx.get(f"{pooled.url}/metrics", timeout=10, trust_env=False).text
    sheds: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("tokenward_pool_sheds_total{"):
            tier = line.split('tier="')[1].split('"')[0]
            sheds[tier] = sheds.get(tier, 0) + float(line.rsplit(" ", 1)[1])
    assert set(sheds) == {"bronze"} and sum(sheds.values()) == bronze_statuses.count(429)
    gold_waits = _histogram(text, "tokenward_pool_wait_seconds", "gold")
    assert gold_waits["+Inf"] == len(gold_replies)
    assert gold_waits["1.0"] >= 0.95 * len(gold_replies)
    assert 'tokenward_pool_in_use{pool="sim/sim-small"} 0.0' in text
    assert 'tokenward_pool_queue_depth{pool="sim/sim-small",tier="bronze"} 0.0' in text


def _histogram(text: str, name: str, tier: str) -> dict[str, float]:
    buckets = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{") and f'tier="{tier}"' in line:
            le = line.split('le="')[1].split('"')[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
    return buckets


def test_an_unknown_tier_is_refused_at_key_creation(pooled: Gateway) -> None:
    tiered_key(pooled, "tierless", "")
    result = pooled.cli(
        "keys", "create", "--account", "tierless", "--tier", "platinum", check=False
    )
    assert result.returncode != 0
    assert "unknown tier 'platinum': configured tiers are gold, silver, bronze" in result.stderr
    settings = load_settings(pooled.config, env=pooled.env)
    with migrated_store(settings.database) as store:
        assert [k.tier for k in service.list_keys(store, "tierless")] == [""]
    made = json.loads(
        pooled.cli(
            "keys", "create", "--account", "tierless", "--tier", "silver", "--format", "json"
        ).stdout
    )
    assert made["tier"] == "silver"


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ("max_concurrency = 4", "model sim-small: max_concurrency must be >= 1"),
        ('tiers = ["gold", "silver", "bronze"]', "limits: default tier 'bronze' is not one"),
        ("pool_max_wait_s = 2.0", "limits: max wait of tier 'silver' must be in [0, 3600]"),
    ],
)
def test_bad_pool_config_is_a_clear_error(
    tmp_path: Path, simulator: Simulator, replace: str, message: str
) -> None:
    gateway = make_gateway(tmp_path, simulator)
    pool_config(gateway.config, simulator.url)
    bad = {
        "max_concurrency = 4": "max_concurrency = 0",
        'tiers = ["gold", "silver", "bronze"]': 'tiers = ["gold", "silver"]',
        "pool_max_wait_s = 2.0": "pool_max_wait_s = -2.0",
    }[replace]
    gateway.config.write_text(gateway.config.read_text().replace(replace, bad))
    if "tiers" in replace:  # no bronze tier: its wait override names an unknown tier too
        text = gateway.config.read_text().replace("bronze = 1.0", "")
        gateway.config.write_text(text.replace("[limits]", '[limits]\ndefault_tier = "bronze"'))
    result = gateway.cli("keys", "list", check=False)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
