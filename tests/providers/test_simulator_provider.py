"""`SimulatorProvider` in-process: replies, streams, faults and the journal oracle."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from tokenward.clock import FakeClock
from tokenward.config.schema import SimulatorSettings
from tokenward.errors import UpstreamConnectError, UpstreamStatusError, UpstreamTimeout
from tokenward.providers.base import Provider, UpstreamCall
from tokenward.providers.simulator import SimulatorProvider

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def make(tmp_path: Path, **overrides: Any) -> SimulatorProvider:
    settings = SimulatorSettings(journal_path=str(tmp_path / "journal.jsonl"), **overrides)
    return SimulatorProvider("sim", settings, FakeClock())


def journal(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def chat_call(request_id: str = "req-1", timeout_s: float = 30.0, **body: Any) -> UpstreamCall:
    full = {"model": "sim-small", "messages": [{"role": "user", "content": "Hello there!"}]}
    return UpstreamCall("chat/completions", {**full, **body}, request_id, timeout_s)


async def collect(provider: SimulatorProvider, call: UpstreamCall) -> list[bytes]:
    stream = await provider.open_stream(call)
    try:
        return [payload async for batch in stream for payload in batch]
    finally:
        await stream.aclose()


def test_it_satisfies_the_provider_protocol(tmp_path: Path) -> None:
    provider: Provider = make(tmp_path)
    assert provider.name == "sim"


def test_complete_returns_the_body_and_journals_it(tmp_path: Path) -> None:
    provider = make(tmp_path)

    async def scenario() -> tuple[bytes, bytes]:
        first = await provider.complete(chat_call("a"))
        second = await provider.complete(chat_call("a"))
        await provider.aclose()
        assert first.status == 200 and first.payload == orjson.loads(first.body)
        return first.body, second.body

    first, second = run(scenario)
    assert first == second  # same request id, same fake clock: byte-identical
    usage = orjson.loads(first)["usage"]
    entries = journal(tmp_path)
    assert [e["attempt"] for e in entries] == [1, 2]
    entry = entries[0]
    assert entry["request_id"] == "a" and entry["completed"] and entry["status"] == 200
    assert entry["prompt_tokens"] == usage["prompt_tokens"] == 3 + 4 + 3
    assert (
        entry["completion_tokens"] == entry["completion_tokens_sent"] == usage["completion_tokens"]
    )
    assert entry["stream"] is False and entry["client_disconnected"] is False


def test_stream_yields_chunks_usage_then_done_and_journals_before_usage(tmp_path: Path) -> None:
    provider = make(tmp_path, chunk_count=4)
    journaled_before_usage: list[bool] = []

    async def scenario() -> list[bytes]:
        call = chat_call(stream=True, stream_options={"include_usage": True}, max_tokens=30)
        stream = await provider.open_stream(call)
        payloads = []
        async for batch in stream:
            for payload in batch:
                if payload != b"[DONE]" and orjson.loads(payload)["choices"] == []:
                    journaled_before_usage.append(bool(journal(tmp_path)))
                payloads.append(payload)
        await stream.aclose()
        return payloads

    payloads = run(scenario)
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    usage = chunks[-1]["usage"]
    content = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert len(content) == 4 and all(content)
    assert journaled_before_usage == [True]
    [entry] = journal(tmp_path)
    assert entry["completed"] and entry["include_usage"] and entry["stream"]
    assert entry["chunks_planned"] == entry["chunks_sent"] == 4
    assert (
        entry["completion_tokens"] == usage["completion_tokens"] == entry["completion_tokens_sent"]
    )


def test_closing_a_stream_early_is_journaled_as_a_disconnect(tmp_path: Path) -> None:
    provider = make(tmp_path)

    async def scenario() -> None:
        call = chat_call(stream=True, metadata={"sim_output_tokens": "30"})
        stream = await provider.open_stream(call)
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == 6:  # the role chunk and five words
                break
        await stream.aclose()
        await stream.aclose()  # safe twice
        await provider.aclose()

    run(scenario)
    [entry] = journal(tmp_path)
    assert entry["client_disconnected"] is True and entry["completed"] is False
    assert entry["chunks_sent"] == entry["completion_tokens_sent"] == 5
    assert entry["chunks_planned"] == entry["completion_tokens"] == 30
    assert entry["disconnected_at"] is not None


def test_latency_and_chunk_delay_are_slept(tmp_path: Path) -> None:
    provider = make(tmp_path, latency_ms=60, chunk_delay_ms=10, chunk_count=3)
    started = time.monotonic()
    run(lambda: collect(provider, chat_call(stream=True)))
    assert time.monotonic() - started >= 0.06 + 3 * 0.01


@pytest.mark.parametrize(("fault", "status"), [("error", 500), ("rate_limit", 429)])
def test_error_faults_raise_status_errors_and_a_retry_succeeds(
    tmp_path: Path, fault: str, status: int
) -> None:
    provider = make(tmp_path)
    call = chat_call(metadata={"sim_fault": fault, "sim_fault_times": "1"})
    with pytest.raises(UpstreamStatusError) as caught:
        run(lambda: provider.complete(call))
    assert caught.value.upstream_status == status
    assert run(lambda: provider.complete(call)).status == 200
    failed, ok = journal(tmp_path)
    assert (failed["fault"], failed["status"], failed["completion_tokens"]) == (fault, status, 0)
    assert (failed["attempt"], ok["attempt"], ok["fault"]) == (1, 2, None)


def test_timeout_fault_waits_for_the_call_timeout(tmp_path: Path) -> None:
    provider = make(tmp_path, hang_s=5.0)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        run(lambda: provider.complete(chat_call(timeout_s=0.05, metadata={"sim_fault": "timeout"})))
    assert 0.05 <= time.monotonic() - started < 1.0
    [entry] = journal(tmp_path)
    assert entry["fault"] == "timeout" and entry["completion_tokens"] == 0


def test_a_hang_shorter_than_the_timeout_ends_in_a_closed_connection(tmp_path: Path) -> None:
    provider = make(tmp_path, hang_s=0.02)
    with pytest.raises(UpstreamConnectError):
        run(lambda: provider.complete(chat_call(metadata={"sim_fault": "timeout"})))


def test_latency_over_the_call_timeout_times_out(tmp_path: Path) -> None:
    provider = make(tmp_path, latency_ms=2000)
    with pytest.raises(UpstreamTimeout):
        run(lambda: provider.complete(chat_call(timeout_s=0.05)))


def test_broken_stream_raises_mid_iteration_after_half_the_chunks(tmp_path: Path) -> None:
    provider = make(tmp_path)
    received: list[bytes] = []

    async def scenario() -> None:
        call = chat_call(stream=True, metadata={"sim_fault": "broken", "sim_output_tokens": "10"})
        stream = await provider.open_stream(call)
        async for batch in stream:
            received.extend(batch)

    with pytest.raises(UpstreamConnectError):
        run(scenario)
    assert len(received) == 1 + 5 and b"[DONE]" not in received
    [entry] = journal(tmp_path)
    assert entry["fault"] == "broken" and not entry["completed"]
    assert (entry["chunks_sent"], entry["chunks_planned"]) == (5, 10)


def test_broken_non_stream_drops_without_billing(tmp_path: Path) -> None:
    provider = make(tmp_path)
    with pytest.raises(UpstreamConnectError):
        run(lambda: provider.complete(chat_call(metadata={"sim_fault": "broken"})))
    [entry] = journal(tmp_path)
    assert entry["completion_tokens"] == 0 and entry["status"] is None


def test_error_event_ends_the_stream_without_usage_or_done(tmp_path: Path) -> None:
    provider = make(tmp_path)
    call = chat_call(
        stream=True,
        stream_options={"include_usage": True},
        metadata={"sim_fault": "error_event", "sim_output_tokens": "8"},
    )
    payloads = run(lambda: collect(provider, call))
    last = orjson.loads(payloads[-1])
    assert set(last) == {"error"} and last["error"]["type"] == "server_error"
    assert all(b'"usage":{' not in p for p in payloads) and b"[DONE]" not in payloads
    [entry] = journal(tmp_path)
    assert entry["chunks_sent"] == 4 and entry["completion_tokens_sent"] == 4


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (chat_call(model="nope"), 404),
        (chat_call(messages="hi"), 400),
        (UpstreamCall("images/generations", {}, "r", 5.0), 404),
    ],
)
def test_bad_requests_surface_as_upstream_status_errors(
    tmp_path: Path, call: UpstreamCall, status: int
) -> None:
    provider = make(tmp_path)
    with pytest.raises(UpstreamStatusError) as caught:
        run(lambda: provider.complete(call))
    assert caught.value.upstream_status == status
    assert journal(tmp_path) == []  # refused requests were never served


def test_embeddings_through_the_provider(tmp_path: Path) -> None:
    provider = make(tmp_path)
    call = UpstreamCall("embeddings", {"model": "sim-embed", "input": ["a b", "c"]}, "e1", 5.0)
    reply = run(lambda: provider.complete(call))
    assert [len(d["embedding"]) for d in reply.payload["data"]] == [256, 256]
    assert reply.payload["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    [entry] = journal(tmp_path)
    assert entry["endpoint"] == "embeddings" and entry["prompt_tokens"] == 3


def test_rates_decide_per_sighting_so_retries_of_a_failed_request_can_pass(
    tmp_path: Path,
) -> None:
    provider = make(tmp_path, error_rate=0.5)
    outcomes = []
    for _ in range(12):
        try:
            run(lambda: provider.complete(chat_call("same")))
            outcomes.append("ok")
        except UpstreamStatusError:
            outcomes.append("error")
    assert "ok" in outcomes and "error" in outcomes
    assert [e["attempt"] for e in journal(tmp_path)] == list(range(1, 13))
