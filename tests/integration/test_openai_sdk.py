"""The official `openai` SDK against a real gateway process in front of a real simulator.

The ledger must hold exactly the usage the SDK received: not one token more or less.
"""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.conftest import Gateway, Simulator

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


def client_for(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gateway.url}/v1", max_retries=0, timeout=30)


def test_sdk_traffic_is_metered_exactly(gateway: Gateway) -> None:
    """Non-stream, stream, tools and embeddings: ledger totals == sum of SDK usage blocks."""
    key = gateway.new_key("acme")
    client = client_for(gateway, key)
    seen = {"requests": 0, "input": 0, "cached": 0, "output": 0, "reasoning": 0}

    def add(usage: object) -> None:
        assert usage is not None
        seen["requests"] += 1
        seen["input"] += usage.prompt_tokens  # type: ignore[attr-defined]
        seen["output"] += getattr(usage, "completion_tokens", 0) or 0
        details = getattr(usage, "prompt_tokens_details", None)
        seen["cached"] += (details.cached_tokens or 0) if details else 0
        out_details = getattr(usage, "completion_tokens_details", None)
        seen["reasoning"] += (out_details.reasoning_tokens or 0) if out_details else 0

    for i, model in enumerate(["sim-small", "sim-large", "sim-reasoner"] * 3):
        reply = client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"question {i}: " + "why is the sky blue? " * i},
            ],
        )
        assert reply.choices[0].message.content
        add(reply.usage)

    for i in range(5):
        stream = client.chat.completions.create(
            model="sim-reasoner" if i % 2 else "sim-small",
            messages=[{"role": "user", "content": f"stream {i} 你好，世界"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        usages = [chunk.usage for chunk in stream if chunk.usage is not None]
        assert len(usages) == 1
        add(usages[0])

    tool_reply = client.chat.completions.create(
        model="sim-large",
        messages=[{"role": "user", "content": "weather in Paris for 3 days?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    calls = tool_reply.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    arguments = json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    assert {"city", "days"} <= set(arguments)
    add(tool_reply.usage)

    vision = client.chat.completions.create(
        model="sim-large",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is in this picture?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                ],
            }
        ],
    )
    add(vision.usage)

    embedding = client.embeddings.create(model="sim-embed", input=["alpha beta", "gamma"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) > 0
    add(embedding.usage)

    [row] = gateway.usage("--account", "acme", "--by", "account")
    assert row["requests"] == seen["requests"]
    assert row["input_tokens"] == seen["input"]
    assert row["cached_input_tokens"] == seen["cached"]
    assert row["output_tokens"] == seen["output"]
    assert row["reasoning_tokens"] == seen["reasoning"]
    assert row["estimated_requests"] == 0
    assert seen["reasoning"] > 0 and seen["cached"] >= 0


def test_stream_tool_calls_survive_the_relay(gateway: Gateway) -> None:
    client = client_for(gateway, gateway.new_key("tools"))
    stream = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="required",
        stream=True,
    )
    name, arguments = "", ""
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                name += (call.function.name or "") if call.function else ""
                arguments += (call.function.arguments or "") if call.function else ""
    assert name == "get_weather"
    assert {"city", "days"} <= set(json.loads(arguments))


def test_usage_chunk_only_for_clients_that_asked(gateway: Gateway, simulator: Simulator) -> None:
    """A client that did not ask gets no usage chunk (and no usage field); one that did, one."""
    client = client_for(gateway, gateway.new_key("usage-shape"))
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "no usage please"}], stream=True
    )
    request_id = raw.headers["x-request-id"]
    chunks = list(raw.parse())
    assert chunks and all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)  # the usage-only chunk was withheld

    asked = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "usage please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert sum(1 for chunk in asked if chunk.usage is not None) == 1

    # the gateway still booked the first stream exactly, from the usage it forced upstream
    entry = simulator.journal_entry(request_id)
    assert entry["include_usage"] is True
    [row] = gateway.usage("--account", "usage-shape", "--by", "account")
    assert row["requests"] == 2 and row["estimated_requests"] == 0


@pytest.mark.parametrize("stream", [False, True])
def test_every_response_carries_a_request_id(gateway: Gateway, stream: bool) -> None:
    client = client_for(gateway, gateway.new_key("ids"))
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "hi"}], stream=stream
    )
    assert raw.headers["x-request-id"].startswith("req_")
