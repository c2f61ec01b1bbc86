"""The official `anthropic` SDK against the gateway's /v1/messages, served by an
OpenAI-dialect upstream: replies, streams and tool use survive translation, and the
ledger books exactly the usage the SDK saw."""

from __future__ import annotations

import anthropic
import httpx

from tests.integration.conftest import Gateway
from tests.integration.helpers import ledger_events

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}


def client_for(gateway: Gateway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0, timeout=30)


def booked_input(usage: anthropic.types.Usage) -> int:
    return (
        usage.input_tokens
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
    )


def test_messages_create_stream_and_tools_are_metered_exactly(gateway: Gateway) -> None:
    key = gateway.new_key("claude-user")
    client = client_for(gateway, key)
    seen: list[tuple[str, anthropic.types.Usage]] = []

    raw = client.messages.with_raw_response.create(
        model="sim-large",
        max_tokens=200,
        system="You are terse.",
        messages=[{"role": "user", "content": "Why is the sky blue? " * 8}],
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    seen.append((raw.headers["x-request-id"], message.usage))

    with client.messages.stream(
        model="sim-reasoner",
        max_tokens=300,
        messages=[{"role": "user", "content": "think, then answer: 你好"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["x-request-id"]
    assert text and final.usage.output_tokens > 0
    seen.append((request_id, final.usage))

    first = client.messages.with_raw_response.create(
        model="sim-small",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "weather in Paris for 3 days?"}],
    )
    reply = first.parse()
    assert reply.stop_reason == "tool_use"
    call = next(block for block in reply.content if block.type == "tool_use")
    assert call.name == "get_weather" and {"city", "days"} <= set(call.input)
    seen.append((first.headers["x-request-id"], reply.usage))

    second = client.messages.with_raw_response.create(
        model="sim-small",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "weather in Paris for 3 days?"},
            {"role": "assistant", "content": reply.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}
                ],
            },
        ],
    )
    answer = second.parse()
    assert answer.stop_reason != "tool_use" and answer.content[0].type == "text"
    seen.append((second.headers["x-request-id"], answer.usage))

    events = ledger_events(gateway, [rid for rid, _ in seen])
    for request_id, usage in seen:
        event = events[request_id]
        assert event.route == "messages"
        assert not event.usage.estimated
        assert event.usage.input_tokens == booked_input(usage)
        assert event.usage.cached_input_tokens == (usage.cache_read_input_tokens or 0)
        assert event.usage.output_tokens == usage.output_tokens


def test_messages_errors_use_the_anthropic_format(gateway: Gateway) -> None:
    key = gateway.new_key("claude-errors")
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        cases = [
            ({"x-api-key": key}, b"{", 400),
            ({"x-api-key": key}, b'{"model":"sim-small","messages":[]}', 400),
            (
                {},
                b'{"model":"sim-small","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
                401,
            ),
            (
                {"x-api-key": key},
                b'{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
                404,
            ),
        ]
        for headers, body, status in cases:
            response = http.post("/v1/messages", content=body, headers=headers)
            assert response.status_code == status, response.text
            payload = response.json()
            assert payload["type"] == "error"
            assert set(payload["error"]) == {"type", "message"}
    try:
        client_for(gateway, key).messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    except anthropic.NotFoundError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("expected a 404")
