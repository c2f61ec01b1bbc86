"""R-LIM-4, the tail: a replica killed with `kill -9` while it holds concurrency slots
cannot leak them; they come back within the lease.

Two replicas share one Redis with `[limits] lease_s = 3` (renewed every second). A
key limited to 5 in flight opens 5 long streams on replica A; B refuses a 6th. A is
killed; the slots' leases were renewed at most lease/3 before, so they free between
2 and 3 s later: B admits nobody before that, and a request within lease + 1 s.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from tests.integration.conftest import Gateway, Simulator, redis_replicas
from tests.integration.test_limits import RULES_SETTLE, api_key, chat, fire, one, send
from tokenward.limits import LimitSpec

pytestmark = pytest.mark.slow

LEASE_S = 3.0


@pytest.fixture
def pair(
    tmp_path_factory: pytest.TempPathFactory, simulator: Simulator, redis_url: str
) -> Iterator[tuple[Gateway, Gateway]]:
    with redis_replicas(
        tmp_path_factory.mktemp("kill9"),
        simulator,
        redis_url,
        TOKENWARD_LIMITS__LEASE_S=str(LEASE_S),
    ) as pair:
        yield pair


def slots_held(redis_url: str, key_id: str) -> int:
    """Concurrency slots of the key in Redis (expired ones included until swept)."""
    url = urlparse(redis_url)
    spec = LimitSpec("key", key_id, "concurrency", 5)
    host, port = url.hostname or "127.0.0.1", str(url.port or 6379)
    db = (url.path or "/0").lstrip("/") or "0"
    out = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "-n", db, "ZCARD", f"tw:lim:{spec.key}:z"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_slots_of_a_killed_replica_come_back_within_the_lease(
    pair: tuple[Gateway, Gateway], redis_url: str
) -> None:
    doomed, survivor = pair
    key, key_id = api_key(survivor, "kill9", concurrency=5)
    time.sleep(RULES_SETTLE)
    # 60 chunks 100 ms apart: 6 s of stream, far longer than the test needs
    long = chat(60, stream=True, sim_output_tokens="60", sim_chunk_delay_ms="100")

    async def hold_then_kill() -> float:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            streams = [asyncio.ensure_future(send(client, doomed.url, key, long)) for _ in range(5)]
            await asyncio.sleep(1.0)
            assert doomed.process is not None
            doomed.process.kill()  # SIGKILL: no release, no goodbye
            killed_at = time.monotonic()
            await asyncio.gather(*streams, return_exceptions=True)
            return killed_at

    killed_at = asyncio.run(hold_then_kill())
    assert slots_held(redis_url, key_id) == 5
    first_admitted = None
    while time.monotonic() - killed_at < LEASE_S + 2:
        reply = one(survivor, key, chat(4))
        elapsed = time.monotonic() - killed_at
        if reply.status == 200:
            first_admitted = elapsed
            break
        assert reply.status == 429 and "concurrency" in reply.body["error"]["message"]
        time.sleep(0.1)
    assert first_admitted is not None, "the slots never came back"
    # not before the leases could have run out (last renewal <= lease/3 before the kill)
    assert LEASE_S * 2 / 3 - 0.3 <= first_admitted <= LEASE_S + 1.0
    # all five are back: five streams fit at once on the survivor
    short = chat(20, stream=True, sim_output_tokens="20", sim_chunk_delay_ms="50")
    replies = fire([(survivor.url, key, short) for _ in range(5)])
    assert [r.status for r in replies] == [200] * 5
    assert slots_held(redis_url, key_id) == 0
