"""A client that disconnects mid-stream is still billed: exactly (drain) or never less
than what it received (abort)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import Gateway, Simulator, make_gateway
from tests.integration.helpers import wait_for_event

CONTENT = re.compile(r'"content": ?"[^"]')


def long_stream_body(tokens: int = 120, delay_ms: int = 10) -> dict[str, object]:
    return {
        "model": "sim-small",
        "messages": [{"role": "user", "content": "tell me a long story"}],
        "stream": True,
        "metadata": {"sim_output_tokens": str(tokens), "sim_chunk_delay_ms": str(delay_ms)},
    }


def read_then_disconnect(gateway: Gateway, key: str, chunks: int) -> tuple[str, int, float]:
    """Read `chunks` content events, then drop the connection; (request id, seen, when)."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            json=long_stream_body(),
            headers={"Authorization": f"Bearer {key}"},
        ) as response,
    ):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        seen = 0
        for line in response.iter_lines():
            if line.startswith("data: ") and CONTENT.search(line):
                seen += 1
            if seen >= chunks:
                break
        closed_at = time.time()
    return request_id, seen, closed_at


@pytest.fixture(scope="module")
def abort_gateway(
    tmp_path_factory: pytest.TempPathFactory, simulator: Simulator
) -> Iterator[Gateway]:
    gw = make_gateway(
        tmp_path_factory.mktemp("abort"), simulator, {"on_client_disconnect": "abort"}
    )
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_drain_books_exactly_what_the_provider_generated(
    gateway: Gateway, simulator: Simulator
) -> None:
    key = gateway.new_key("drain")
    request_id, seen, _ = read_then_disconnect(gateway, key, chunks=5)
    event = wait_for_event(gateway, request_id)
    entry = simulator.journal_entry(request_id)
    assert event.status == "client_disconnected"
    assert not event.usage.estimated
    assert entry["completed"] is True  # the gateway read the upstream to its end
    assert event.usage.output_tokens == entry["completion_tokens"] == 120
    assert event.usage.input_tokens == entry["prompt_tokens"]
    assert seen == 5


def test_abort_closes_upstream_promptly_and_estimates_at_least_what_was_relayed(
    abort_gateway: Gateway, simulator: Simulator
) -> None:
    key = abort_gateway.new_key("abort")
    request_id, seen, closed_at = read_then_disconnect(abort_gateway, key, chunks=5)
    event = wait_for_event(abort_gateway, request_id)
    entry = simulator.journal_entry(request_id)
    assert event.status == "client_disconnected"
    assert event.usage.estimated
    assert entry["client_disconnected"] is True
    assert entry["chunks_sent"] < entry["chunks_planned"]
    assert entry["disconnected_at"] - closed_at < 1.0  # upstream closed within a second
    assert seen <= event.usage.output_tokens <= entry["completion_tokens"]
    assert event.usage.output_tokens >= 5


def test_broken_upstream_stream_is_booked_once_as_estimate(gateway: Gateway) -> None:
    key = gateway.new_key("broken")
    body = long_stream_body(tokens=40, delay_ms=1)
    body["metadata"] = {**body["metadata"], "sim_fault": "broken"}  # type: ignore[dict-item]
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{gateway.url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200
    assert "data: [DONE]" not in response.text
    assert '"error"' in response.text  # the client is told in-band
    request_id = response.headers["x-request-id"]
    event = wait_for_event(gateway, request_id)
    relayed = len(CONTENT.findall(response.text))
    assert event.status == "upstream_error"
    assert event.usage.estimated
    assert event.usage.output_tokens >= max(relayed, 1)
