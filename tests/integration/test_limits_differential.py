"""R-LIM-2 at process level: one seeded request sequence, three deployments, one answer.

The same 120 requests (keys and costs drawn from a fixed seed) are sent one after
the other, so their order is defined, to

* one replica with the in-process limiter,
* one replica with the Redis limiter,
* two replicas sharing that Redis, alternately,

each time with fresh keys carrying the same limits (requests/min, tokens/min, both).
The admit/deny vectors must be identical, and the limits must decide about half.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Gateway, Simulator, make_gateway, redis_replicas
from tests.integration.test_limits import RULES_SETTLE, api_key, chat, send

pytestmark = pytest.mark.slow

SEED = 20261129
REQUESTS = 120
#: per key: its limits
LIMITS: list[dict[str, int]] = [{"rpm": 15}, {"tpm": 2_000}, {"rpm": 20, "tpm": 3_000}]


def sequence() -> list[tuple[int, dict[str, Any]]]:
    """(key index, body) of every request; the simulator's output is pinned per request."""
    rng = random.Random(SEED)
    requests = []
    for _ in range(REQUESTS):
        key = rng.randrange(len(LIMITS))
        max_tokens = rng.randint(8, 120)
        output = rng.randint(1, max_tokens)
        requests.append((key, chat(max_tokens, sim_output_tokens=str(output))))
    return requests


def decisions(gateways: list[Gateway], run: str) -> list[int]:
    """Fresh keys with `LIMITS`, then the sequence, sent in order, round-robin."""
    keys = [api_key(gateways[0], f"diff-{run}", **limits)[0] for limits in LIMITS]
    time.sleep(RULES_SETTLE)

    async def send_in_order() -> list[int]:
        statuses = []
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for i, (key, body) in enumerate(sequence()):
                reply = await send(client, gateways[i % len(gateways)].url, keys[key], body)
                statuses.append(reply.status)
        return statuses

    return asyncio.run(send_in_order())


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, simulator: Simulator, redis_url: str
) -> Iterator[tuple[Gateway, Gateway]]:
    with redis_replicas(tmp_path_factory.mktemp("diff-redis"), simulator, redis_url) as pair:
        yield pair


def test_the_same_sequence_gets_the_same_decisions_everywhere(
    tmp_path: Path, simulator: Simulator, shared: tuple[Gateway, Gateway]
) -> None:
    local = make_gateway(tmp_path, simulator)
    local.start()
    try:
        in_process = decisions([local], "memory")
    finally:
        local.stop()
    one_redis = decisions([shared[0]], "redis1")
    two_redis = decisions(list(shared), "redis2")
    assert set(in_process) == {200, 429}
    assert 0.3 * REQUESTS <= in_process.count(429) <= 0.7 * REQUESTS
    assert one_redis == in_process
    assert two_redis == in_process
