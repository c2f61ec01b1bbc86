"""Dialects end to end: OpenAI clients served by an Anthropic upstream, and each vendor
preset's usage shape booked exactly, over real HTTP against the simulator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.helpers.processes import RunningProcess, free_port, start_process
from tests.integration.conftest import ADMIN_KEY, TOKENWARD, Gateway
from tests.integration.helpers import ledger_events

PRESETS = ("deepseek", "zhipu", "qwen", "doubao", "minimax", "vllm", "sglang", "ollama")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("dialect-sim")
    port = free_port()
    process: RunningProcess = start_process(
        [
            TOKENWARD,
            "simulate",
            "--port",
            str(port),
            "--dialect",
            "anthropic",
            "--journal",
            str(tmp / "journal.jsonl"),
        ],
        env={**os.environ, "TOKENWARD_HOME": str(tmp)},
        health_url=f"http://127.0.0.1:{port}/_sim/health",
        timeout=30,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("dialect-gw")
    lines = [
        "[providers.claude]",
        'kind = "anthropic"',
        f'base_url = "{upstream}/v1"',
        "[[models]]",
        'name = "claude-sim"',
        'provider = "claude"',
        'upstream_model = "sim-reasoner"',
    ]
    for preset in PRESETS:
        lines += [
            f"[providers.{preset}]",
            f'preset = "{preset}"',
            f'base_url = "{upstream}/v1"',
            "[[models]]",
            f'name = "{preset}-model"',
            f'provider = "{preset}"',
            'upstream_model = "sim-reasoner"',
        ]
    config = tmp / "tokenward.toml"
    config.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "TOKENWARD_HOME": str(tmp / "home"), "TOKENWARD_ADMIN_KEY": ADMIN_KEY}
    gw = Gateway(home=tmp / "home", config=config, port=free_port(), env=env)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def set_dialect(upstream: str, dialect: str) -> None:
    httpx.post(f"{upstream}/_sim/config", json={"dialect": dialect}, timeout=10).raise_for_status()


def journal(upstream: str, request_id: str) -> dict[str, object]:
    entries = httpx.get(
        f"{upstream}/_sim/journal", params={"request_id": request_id}, timeout=10
    ).json()
    assert len(entries) == 1
    entry: dict[str, object] = entries[0]
    return entry


def test_openai_sdk_served_by_an_anthropic_upstream(gateway: Gateway, upstream: str) -> None:
    set_dialect(upstream, "anthropic")
    client = openai.OpenAI(
        api_key=gateway.new_key("oa-to-claude"), base_url=f"{gateway.url}/v1", max_retries=0
    )
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sim",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
        max_tokens=300,
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    stream = client.chat.completions.with_raw_response.create(
        model="claude-sim",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [c.usage for c in stream.parse() if c.usage is not None]
    assert len(usages) == 1
    tools = client.chat.completions.with_raw_response.create(
        model="claude-sim",
        messages=[{"role": "user", "content": "weather in Oslo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    )
    call = tools.parse().choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(call.function.arguments)  # type: ignore[union-attr]

    seen = [
        (raw.headers["x-request-id"], reply.usage),
        (stream.headers["x-request-id"], usages[0]),
        (tools.headers["x-request-id"], tools.parse().usage),
    ]
    events = ledger_events(gateway, [rid for rid, _ in seen])
    for request_id, usage in seen:
        assert usage is not None
        event, entry = events[request_id], journal(upstream, request_id)
        assert event.deployment == "claude/sim-reasoner" and not event.usage.estimated
        assert event.usage.input_tokens == usage.prompt_tokens == entry["prompt_tokens"]
        assert event.usage.output_tokens == usage.completion_tokens == entry["completion_tokens"]
        assert event.usage.cached_input_tokens == entry["cached_tokens"]
        assert event.usage.reasoning_tokens == entry["reasoning_tokens"]


@pytest.fixture(scope="module")
def preset_key(gateway: Gateway) -> str:
    return gateway.new_key("presets")


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("stream", [False, True])
def test_each_preset_books_its_vendor_usage_shape(
    gateway: Gateway, upstream: str, preset_key: str, preset: str, stream: bool
) -> None:
    set_dialect(upstream, preset)
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": f"{preset}-model",
            "messages": [{"role": "user", "content": "a fairly long question " * 40}],
            "stream": stream,
            "metadata": {"sim_cache_report": "1"},
        },
        headers={"Authorization": f"Bearer {preset_key}"},
        timeout=30,
    )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    [event] = ledger_events(gateway, [request_id]).values()
    entry = journal(upstream, request_id)
    assert not event.usage.estimated
    assert event.usage.input_tokens == entry["prompt_tokens"]
    assert event.usage.cached_input_tokens == entry["cached_tokens"]
    assert event.usage.output_tokens == entry["completion_tokens"]
    assert event.usage.reasoning_tokens == entry["reasoning_tokens"]
    if preset == "deepseek":
        assert event.usage.cached_input_tokens > 0 and event.usage.reasoning_tokens > 0
