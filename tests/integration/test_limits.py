"""Limits end to end: real gateways, a real Redis, the simulator as upstream (SPEC 7).

Two `tokenward serve` replicas share one Redis and one SQLite ledger; rules are set
with the CLI, as an operator would. A rule reaches a gateway within its rules-cache
TTL (0.5 s), so every test waits `RULES_SETTLE` after changing rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.redis_server import RedisServer, private_redis_server
from tests.integration.conftest import ADMIN_KEY, Gateway, Simulator, make_gateway, redis_replicas
from tokenward.metering import estimate_prompt_tokens

pytestmark = pytest.mark.slow

RULES_SETTLE = 1.1
#: long words: the gateway's estimate (chars / 4) is above the simulator's count
#: (one token per word), so reservations are worst cases and token limits are exact
PROMPT = "internationalization " * 10


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def remaining_requests(self) -> int:
        return int(self.headers["x-ratelimit-remaining-requests"])


def chat(max_tokens: int = 32, *, stream: bool = False, **metadata: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "sim-small",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    if metadata:
        body["metadata"] = metadata
    return body


async def send(client: httpx.AsyncClient, url: str, key: str, body: dict[str, Any]) -> Reply:
    """One request; a stream is read to its end (its usage chunk is the body)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        raw = await r.aread()
    if r.status_code != 200:
        return Reply(r.status_code, r.headers, httpx.Response(r.status_code, content=raw).json())
    if not body.get("stream"):
        return Reply(200, r.headers, httpx.Response(200, content=raw).json())
    return Reply(200, r.headers, {"stream": raw.decode()})


def fire(targets: list[tuple[str, str, dict[str, Any]]]) -> list[Reply]:
    """All requests at once, each on its own connection."""

    async def run() -> list[Reply]:
        limits = httpx.Limits(max_connections=len(targets) + 8, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
            return await asyncio.gather(*(send(client, u, k, b) for u, k, b in targets))

    return asyncio.run(run())


def one(gateway: Gateway, key: str, body: dict[str, Any]) -> Reply:
    [reply] = fire([(gateway.url, key, body)])
    return reply


def metric(gateway: Gateway, name: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10, trust_env=False).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"metric {name} not exported")


def key_id(gateway: Gateway, key: str) -> str:
    return gateway.keys[key]


def admin(gateway: Gateway, method: str, path: str, **body: Any) -> httpx.Response:
    """The admin API (faster than the CLI, which pays its start-up on every call)."""
    return httpx.request(
        method,
        f"{gateway.url}/admin/{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
        trust_env=False,
    )


def api_key(gateway: Gateway, account: str, **limits: int) -> tuple[str, str]:
    """A new key (and its account if needed), with its limits, over the admin API."""
    admin(gateway, "POST", "accounts", name=account)  # 400 when it exists: fine
    created = admin(gateway, "POST", "keys", account=account, **limits)
    assert created.status_code == 201, created.text
    if limits:
        assert {k: created.json()["limits"][k] for k in limits} == limits
    return created.json()["key"], created.json()["id"]


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, simulator: Simulator, redis_url: str
) -> Iterator[tuple[Gateway, Gateway]]:
    """Two gateways sharing one Redis and one SQLite database."""
    with redis_replicas(tmp_path_factory.mktemp("replicas"), simulator, redis_url) as pair:
        yield pair


def test_two_replicas_admit_exactly_the_requests_per_minute(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    key = first.new_key("rpm-exact")
    first.cli("limits", "set", "--key", key_id(first, key), "--rpm", "100")
    time.sleep(RULES_SETTLE)
    replies = fire([((first, second)[i % 2].url, key, chat(8)) for i in range(200)])
    statuses = [r.status for r in replies]
    assert statuses.count(200) == 100, statuses
    assert statuses.count(429) == 100, statuses
    for reply in replies:
        assert 0 <= reply.remaining_requests <= 99
        assert reply.headers["x-ratelimit-limit-requests"] == "100"
        if reply.status == 429:
            assert int(reply.headers["retry-after"]) >= 1
            assert "requests per 60 s for key" in reply.body["error"]["message"]
            assert reply.body["error"]["code"] == "rate_limit_exceeded"
    assert metric(first, "tokenward_limiter_fail_open_total") == 0
    assert metric(second, "tokenward_limiter_fail_open_total") == 0


def test_admitted_tokens_never_exceed_the_tokens_per_minute(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    key, ident = api_key(first, "tpm-exact")
    limit = 3_000
    rule = admin(first, "POST", "limits", key=ident, tpm=limit)
    assert rule.status_code == 200 and rule.json()["tpm"] == limit
    assert any(r["scope_id"] == ident for r in admin(first, "GET", "limits").json())
    time.sleep(RULES_SETTLE)
    sizes = [20 + (i * 37) % 300 for i in range(60)]
    replies = fire(
        [
            ((first, second)[i % 2].url, key, chat(n, sim_output_tokens="400"))
            for i, n in enumerate(sizes)
        ]
    )
    admitted = [r for r in replies if r.status == 200]
    assert admitted and len(admitted) < len(replies)
    assert {r.status for r in replies} == {200, 429}
    used = sum(r.body["usage"]["total_tokens"] for r in admitted)
    assert used <= limit
    # after true-up the window holds the actual usage: a probe sees exactly the rest
    probe = one(first, key, chat(1))
    reserved = estimate_prompt_tokens(chat()["messages"]) + 1 if probe.status == 200 else 0
    assert int(probe.headers["x-ratelimit-remaining-tokens"]) == limit - used - reserved


def test_concurrency_limit_holds_at_the_upstream(
    replicas: tuple[Gateway, Gateway], simulator: Simulator
) -> None:
    first, second = replicas
    key, _ = api_key(first, "concurrency", concurrency=5)
    time.sleep(RULES_SETTLE)
    slow = chat(20, stream=True, sim_output_tokens="20", sim_chunk_delay_ms="30", sim_tag="conc5")
    replies = fire([((first, second)[i % 2].url, key, slow) for i in range(100)])
    statuses = [r.status for r in replies]
    assert set(statuses) == {200, 429} and statuses.count(200) >= 5
    assert all(int(r.headers["retry-after"]) >= 1 for r in replies if r.status == 429)
    assert all(
        "concurrency in flight" in r.body["error"]["message"] for r in replies if r.status == 429
    )
    tag = simulator.stats()["tags"]["conc5"]
    assert 1 <= tag["peak_in_flight"] <= 5
    assert tag["requests"] == statuses.count(200)
    # every slot is free again once the streams have ended
    again = fire([((first, second)[i % 2].url, key, chat(4)) for i in range(5)])
    assert [r.status for r in again] == [200] * 5


def test_a_rejected_request_consumes_nothing(replicas: tuple[Gateway, Gateway]) -> None:
    first, _ = replicas
    key, _ = api_key(first, "rejected", rpm=10, tpm=2000)
    # a request refused for its concurrency slot must not count towards requests/min
    key2, _ = api_key(first, "rejected", rpm=100, concurrency=1)
    time.sleep(RULES_SETTLE)
    a = one(first, key, chat(50))
    assert a.status == 200 and a.remaining_requests == 9
    b = one(first, key, chat(5_000))
    assert b.status == 429 and "larger than the limit" in b.body["error"]["message"]
    c = one(first, key, chat(50))
    assert c.status == 200 and c.remaining_requests == 8
    estimate = estimate_prompt_tokens(chat()["messages"]) + 50
    assert int(c.headers["x-ratelimit-remaining-tokens"]) == (
        2000 - a.body["usage"]["total_tokens"] - estimate
    )

    async def overlap() -> tuple[Reply, Reply]:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            slow = chat(20, stream=True, sim_output_tokens="20", sim_chunk_delay_ms="40")
            held = asyncio.ensure_future(send(client, first.url, key2, slow))
            await asyncio.sleep(0.4)
            refused = await send(client, first.url, key2, chat(4))
            return await held, refused

    held, refused = asyncio.run(overlap())
    assert held.status == 200 and held.remaining_requests == 99
    assert refused.status == 429 and "concurrency" in refused.body["error"]["message"]
    after = one(first, key2, chat(4))
    assert after.status == 200 and after.remaining_requests == 98


def test_without_rules_there_are_no_rate_limit_headers(gateway: Gateway) -> None:
    key, _ = api_key(gateway, "unlimited")
    replies = fire([(gateway.url, key, chat(8)) for _ in range(5)])
    assert [r.status for r in replies] == [200] * 5
    assert not any(h.startswith("x-ratelimit") for r in replies for h in r.headers)


def test_a_long_stream_keeps_its_slot_past_the_lease(tmp_path: Path, simulator: Simulator) -> None:
    gateway = make_gateway(tmp_path, simulator, TOKENWARD_LIMITS__LEASE_S="1")
    gateway.start()
    try:
        key, _ = api_key(gateway, "lease", concurrency=1)
        time.sleep(RULES_SETTLE)

        async def overlap() -> tuple[Reply, Reply]:
            async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
                # 2.4 s of stream under a 1 s lease: only renewals keep the slot
                slow = chat(24, stream=True, sim_output_tokens="24", sim_chunk_delay_ms="100")
                held = asyncio.ensure_future(send(client, gateway.url, key, slow))
                await asyncio.sleep(1.8)
                refused = await send(client, gateway.url, key, chat(4))
                return await held, refused

        held, refused = asyncio.run(overlap())
        assert held.status == 200 and "[DONE]" in held.body["stream"]
        assert refused.status == 429, refused.body
        assert one(gateway, key, chat(4)).status == 200
    finally:
        gateway.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with private_redis_server() as server:
        yield server


def test_a_redis_outage_follows_the_policy_and_recovers(
    tmp_path: Path, simulator: Simulator, own_redis: RedisServer
) -> None:
    env = {"TOKENWARD_REDIS_URL": own_redis.url, "TOKENWARD_LIMITS__REDIS_TIMEOUT_MS": "200"}
    open_gw = make_gateway(tmp_path / "open", simulator, None, **env)
    closed_gw = make_gateway(
        tmp_path / "closed", simulator, None, **env, TOKENWARD_LIMITS__ON_STORE_ERROR="fail_closed"
    )
    open_gw.start()
    closed_gw.start()
    try:
        open_key, _ = api_key(open_gw, "outage", rpm=5)
        closed_key, _ = api_key(closed_gw, "outage", rpm=1000)
        time.sleep(RULES_SETTLE)
        assert [one(open_gw, open_key, chat(4)).remaining_requests for _ in range(2)] == [4, 3]
        assert one(closed_gw, closed_key, chat(4)).status == 200
        own_redis.kill()

        # fail_open: served, unenforced (no headers), and counted
        served_open = fire([(open_gw.url, open_key, chat(4)) for _ in range(10)])
        assert [r.status for r in served_open] == [200] * 10
        assert not any("x-ratelimit-limit-requests" in r.headers for r in served_open)
        assert metric(open_gw, "tokenward_limiter_fail_open_total") == 10
        assert metric(open_gw, "tokenward_limiter_store_errors_total") >= 1

        # fail_closed: 503 "limiter unavailable" with Retry-After, and no upstream call
        refused = fire([(closed_gw.url, closed_key, chat(4)) for _ in range(5)])
        assert [r.status for r in refused] == [503] * 5
        for reply in refused:
            assert "limiter unavailable" in reply.body["error"]["message"]
            assert int(reply.headers["retry-after"]) >= 1
        ids = {r.headers["x-request-id"] for r in refused}
        assert not ids & {entry["request_id"] for entry in simulator.journal()}
        assert metric(closed_gw, 'tokenward_limiter_decisions_total{result="fail_closed"}') == 5

        # Redis back (empty): exact limiting resumes by itself, no restart
        own_redis.start()
        first_enforced = wait_enforced(open_gw, open_key)
        assert first_enforced.remaining_requests == 4
        rest = [one(open_gw, open_key, chat(4)) for _ in range(5)]
        assert [r.status for r in rest] == [200, 200, 200, 200, 429]
        assert wait_enforced(closed_gw, closed_key).status == 200
    finally:
        open_gw.stop()
        closed_gw.stop()


def wait_enforced(gateway: Gateway, key: str, timeout: float = 10.0) -> Reply:
    """The first reply the limiter answered again: fail-open replies carry no headers,
    fail-closed ones are 503s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = one(gateway, key, chat(4))
        if "x-ratelimit-remaining-requests" in reply.headers:
            return reply
        assert reply.status in (200, 503), reply.body
        time.sleep(0.1)
    raise AssertionError("the limiter did not come back after Redis restarted")
