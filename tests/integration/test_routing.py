"""Deployments, retries and fallback over real processes: two simulators, one failing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.helpers.processes import RunningProcess, free_port, start_process
from tests.integration.conftest import ADMIN_KEY, TOKENWARD, Gateway
from tests.integration.helpers import ledger_events


def simulator(tmp: Path, name: str, *extra: str) -> tuple[RunningProcess, str]:
    port = free_port()
    process = start_process(
        [
            TOKENWARD,
            "simulate",
            "--port",
            str(port),
            "--journal",
            str(tmp / f"{name}.jsonl"),
            *extra,
        ],
        env={**os.environ, "TOKENWARD_HOME": str(tmp / name)},
        health_url=f"http://127.0.0.1:{port}/_sim/health",
        timeout=30,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str, str]]:
    tmp = tmp_path_factory.mktemp("routing")
    broken, broken_url = simulator(tmp, "broken", "--error-rate", "1.0")
    healthy, healthy_url = simulator(tmp, "healthy")
    config = tmp / "tokenward.toml"
    config.write_text(
        f"""
[routing]
max_attempts = 3
backoff_base_s = 0.01
backoff_max_s = 0.05
cooldown_after_failures = 3
cooldown_s = 60

[providers.a]
kind = "openai"
base_url = "{broken_url}/v1"

[providers.b]
kind = "openai"
base_url = "{healthy_url}/v1"

[[models]]
name = "shared"
provider = "a"
upstream_model = "sim-small"
weight = 3

[[models]]
name = "shared"
provider = "b"
upstream_model = "sim-small"
aliases = ["shared-alias"]

[[models]]
name = "dead"
provider = "a"
upstream_model = "sim-small"

[[models]]
name = "dead"
provider = "a"
upstream_model = "sim-large"
"""
    )
    home = tmp / "home"
    env = {**os.environ, "TOKENWARD_HOME": str(home), "TOKENWARD_ADMIN_KEY": ADMIN_KEY}
    gateway = Gateway(home=home, config=config, port=free_port(), env=env)
    gateway.start()
    try:
        yield gateway, broken_url, healthy_url
    finally:
        gateway.stop()
        broken.stop()
        healthy.stop()


def test_fallback_serves_every_request_and_books_the_serving_deployment(
    routed: tuple[Gateway, str, str],
) -> None:
    gateway, broken_url, _ = routed
    key = gateway.new_key("fallback")
    client = openai.OpenAI(api_key=key, base_url=f"{gateway.url}/v1", max_retries=0, timeout=30)

    def call(i: int) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model="shared" if i % 2 else "shared-alias",
            messages=[{"role": "user", "content": f"hello {i}"}],
            stream=i % 5 == 0,
        )
        if i % 5 == 0:
            list(raw.parse())
        else:
            raw.parse()
        return raw.headers["x-request-id"]

    with ThreadPoolExecutor(8) as pool:
        request_ids = list(pool.map(call, range(200)))
    events = ledger_events(gateway, request_ids)
    assert len(events) == 200  # every request succeeded, and exactly one event each
    assert {e.deployment for e in events.values()} == {"b/sim-small"}
    assert all(e.status == "ok" for e in events.values())
    # A failed, was retried on B, and then cooled down: only the first few needed 2 tries
    retried = [e for e in events.values() if e.attempts > 1]
    assert 1 <= len(retried) <= 20
    broken_journal = httpx.get(f"{broken_url}/_sim/journal", timeout=10).json()
    assert all(entry["completion_tokens"] == 0 for entry in broken_journal)


def test_when_every_deployment_fails_the_client_gets_a_quick_502(
    routed: tuple[Gateway, str, str],
) -> None:
    gateway, _, _ = routed
    key = gateway.new_key("all-down")
    started = time.monotonic()
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "dead", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 502
    assert time.monotonic() - started < 2.0
    assert set(response.json()["error"]) == {"message", "type", "code", "param"}
    anthropic_style = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "dead", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": key},
        timeout=30,
    )
    assert anthropic_style.status_code == 502
    assert anthropic_style.json()["type"] == "error"
    events = ledger_events(
        gateway,
        [response.headers["x-request-id"], anthropic_style.headers["x-request-id"]],
    )
    assert [e.status for e in events.values()] == ["upstream_error", "upstream_error"]
    assert [e.attempts for e in events.values()] == [3, 3]
    assert all(e.usage.total_tokens == 0 for e in events.values())


def test_a_stream_is_never_retried_after_its_first_byte(
    routed: tuple[Gateway, str, str],
) -> None:
    gateway, _, healthy_url = routed
    key = gateway.new_key("no-retry")
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "shared",
            "messages": [{"role": "user", "content": "break mid-way"}],
            "stream": True,
            "metadata": {"sim_fault": "broken", "sim_output_tokens": "20"},
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    request_id = response.headers["x-request-id"]
    assert response.status_code == 200 and '"error"' in response.text
    journal = httpx.get(f"{healthy_url}/_sim/journal", params={"request_id": request_id}).json()
    assert len(journal) == 1  # one upstream attempt: the broken stream was not retried
    [event] = ledger_events(gateway, [request_id]).values()
    # A (if tried first) failed before any byte; B's stream broke after bytes: no third try
    assert event.attempts in (1, 2)
    assert event.deployment == "b/sim-small"
    assert event.status == "upstream_error" and event.usage.estimated


def test_models_lists_models_and_aliases(routed: tuple[Gateway, str, str]) -> None:
    gateway, _, _ = routed
    client = openai.OpenAI(api_key=gateway.new_key("lister"), base_url=f"{gateway.url}/v1")
    assert {m.id for m in client.models.list()} == {"shared", "shared-alias", "dead"}
