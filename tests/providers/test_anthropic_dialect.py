"""Anthropic Messages requests are validated before anything is reserved or sent upstream."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tokenward.errors import InvalidRequest
from tokenward.providers.dialects.anthropic import MessagesRequest, parse_messages_request

USER = {"role": "user", "content": "hi"}


def parse(payload: dict[str, Any]) -> MessagesRequest:
    return parse_messages_request(orjson.dumps(payload), max_output_tokens=4096)


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": [USER], **fields}


def test_a_full_tool_conversation_is_accepted_and_kept_verbatim() -> None:
    payload = body(
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather and this picture?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "need a tool", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"c": "P"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "is_error": False,
                        "content": [{"type": "text", "text": "sunny"}],
                    },
                    {"type": "document", "source": {"type": "text", "data": "future block"}},
                ],
            },
        ],
        tools=[
            {"name": "weather", "description": "Weather.", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stream=True,
        stop_sequences=["END"],
        temperature=0.7,
        top_p=0.9,
        top_k=40,
        metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    request = parse(payload)
    assert (request.model, request.stream, request.max_output_tokens) == ("claude-x", True, 100)
    assert request.payload == payload


def test_max_tokens_is_required_as_in_anthropic() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse({"model": "m", "messages": [USER]})
    assert caught.value.param == "max_tokens"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"max_tokens": 5, "messages": [USER]}, "model"),
        (body(max_tokens=0), "max_tokens"),
        (body(max_tokens=5000), "max_tokens"),
        (body(max_tokens="5"), "max_tokens"),
        (body(messages=[]), "messages"),
        ({"model": "m", "max_tokens": 5}, "messages"),
        (body(messages=["hi"]), "messages[0]"),
        (body(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
        (body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (body(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages[0].content[0]"),
        (
            body(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]),
            "messages[0].content[0].text",
        ),
        (
            body(messages=[{"role": "user", "content": [{"type": "image", "source": "x"}]}]),
            "messages[0].content[0].source",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/bmp", "data": ""},
                            }
                        ],
                    }
                ]
            ),
            "messages[0].content[0].source.media_type",
        ),
        (
            body(
                messages=[
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            ),
            "messages[0].content[0].source.type",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}],
                    }
                ]
            ),
            "messages[0].content[0]",
        ),
        (
            body(
                messages=[
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "n", "input": []}],
                    }
                ]
            ),
            "messages[0].content[0].input",
        ),
        (
            body(
                messages=[
                    {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
                ]
            ),
            "messages[0].content[0]",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t", "content": 3}],
                    }
                ]
            ),
            "messages[0].content[0].content",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "content": [{"x": 1}]}
                        ],
                    }
                ]
            ),
            "messages[0].content[0].content[0]",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": 1}],
                    }
                ]
            ),
            "messages[0].content[0].is_error",
        ),
        (
            body(messages=[{"role": "assistant", "content": [{"type": "thinking"}]}]),
            "messages[0].content[0].thinking",
        ),
        (
            body(messages=[{"role": "assistant", "content": [{"type": "redacted_thinking"}]}]),
            "messages[0].content[0].data",
        ),
        (body(system=5), "system"),
        (body(system=[{"type": "image"}]), "system[0]"),
        (body(tools={}), "tools"),
        (body(tools=["x"]), "tools[0]"),
        (body(tools=[{"input_schema": {}}]), "tools[0].name"),
        (body(tools=[{"name": "n"}]), "tools[0].input_schema"),
        (body(tools=[{"name": "n", "input_schema": {}, "description": 1}]), "tools[0].description"),
        (body(tool_choice="auto"), "tool_choice"),
        (body(tool_choice={"type": "required"}), "tool_choice"),
        (body(tool_choice={"type": "tool"}), "tool_choice.name"),
        (
            body(tool_choice={"type": "auto", "disable_parallel_tool_use": 1}),
            "tool_choice.disable_parallel_tool_use",
        ),
        (body(stream="yes"), "stream"),
        (body(temperature=1.5), "temperature"),
        (body(top_p=-0.1), "top_p"),
        (body(top_k=1.5), "top_k"),
        (body(stop_sequences="END"), "stop_sequences"),
        (body(stop_sequences=[""]), "stop_sequences"),
        (body(metadata=[]), "metadata"),
        (body(metadata={"user_id": 5}), "metadata.user_id"),
    ],
)
def test_invalid_requests_name_the_param(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(payload)
    assert caught.value.param == param


def test_bad_json_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        parse_messages_request(b"{nope", max_output_tokens=10)
