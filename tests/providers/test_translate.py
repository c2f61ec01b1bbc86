"""Request and reply bodies survive translation between the OpenAI and Anthropic dialects."""

from __future__ import annotations

import functools
import typing
from pathlib import Path
from typing import Any

import anthropic.types
import openai.types.chat
import orjson
import pytest

from tokenward.errors import InvalidRequest, UpstreamProtocolError
from tokenward.metering.usage import Usage
from tokenward.providers.dialects import parse_chat_request
from tokenward.providers.dialects.anthropic import parse_messages_request
from tokenward.providers.dialects.translate import (
    ANTHROPIC_TO_OPENAI_STOP,
    OPENAI_TO_ANTHROPIC_STOP,
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)
from tokenward.providers.presets import usage_from_preset

FIXTURES = Path(__file__).parent / "fixtures"
PNG = "iVBORw0KGgo="
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def fixture(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return value


def from_anthropic(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate as the route would, then translate."""
    request = parse_messages_request(orjson.dumps(payload), max_output_tokens=8192)
    return anthropic_request_to_openai(request.payload)


def from_openai(payload: dict[str, Any], default_max_tokens: int = 1024) -> dict[str, Any]:
    request = parse_chat_request(orjson.dumps(payload), max_output_tokens=8192, max_choices=4)
    return openai_request_to_anthropic(request.payload, default_max_tokens=default_max_tokens)


# --- requests ---------------------------------------------------------------------------

OPENAI_CONVERSATION: dict[str, Any] = {
    "model": "gpt-alias",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Tokyo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this picture?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Thanks."},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather.",
                "parameters": WEATHER_SCHEMA,
            },
        }
    ],
    "tool_choice": "required",
    "max_tokens": 256,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop": ["END"],
    "user": "u-7",
    "stream": True,
    "stream_options": {"include_usage": True},
}


def test_an_openai_conversation_becomes_anthropic_turns() -> None:
    body = from_openai(OPENAI_CONVERSATION)
    assert body == {
        "model": "gpt-alias",
        "max_tokens": 256,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "call_2",
                        "name": "weather",
                        "input": {"city": "Tokyo"},
                    },
                ],
            },
            {
                "role": "user",  # consecutive tool messages and the next user message merge
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
                    {"type": "text", "text": "And this picture?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            },
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Thanks."},
        ],
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-7"},
        "tools": [
            {"name": "weather", "input_schema": WEATHER_SCHEMA, "description": "Current weather."}
        ],
        "tool_choice": {"type": "any"},
        "stream": True,
    }


def test_openai_to_anthropic_to_openai_preserves_messages_and_tools() -> None:
    back = from_anthropic(from_openai(OPENAI_CONVERSATION))
    assert back == OPENAI_CONVERSATION


def test_anthropic_to_openai_to_anthropic_preserves_the_conversation() -> None:
    original = from_openai(OPENAI_CONVERSATION)
    assert from_openai(from_anthropic(original)) == original


def test_an_anthropic_conversation_becomes_openai_messages() -> None:
    body = from_anthropic(
        {
            "model": "claude-alias",
            "max_tokens": 300,
            "system": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Two."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "<reminder/>"},
                        {"type": "text", "text": "Look:"},
                        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Here you go."},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "is_error": True,
                            "content": [
                                {"type": "text", "text": "a"},
                                {"type": "text", "text": "b"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/jpeg",
                                        "data": PNG,
                                    },
                                },
                            ],
                        },
                    ],
                },
            ],
            "tools": [{"name": "look", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "look", "disable_parallel_tool_use": True},
            "top_k": 5,
            "metadata": {"user_id": "u-1"},
        }
    )
    assert body == {
        "model": "claude-alias",
        "max_tokens": 300,
        "messages": [
            {"role": "system", "content": "Rule one.\n\nTwo."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<reminder/>"},
                    {"type": "text", "text": "Look:"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": "{}"},
                    }
                ],
            },
            # tool results come first, right after the tool calls; images move after them
            {"role": "tool", "tool_call_id": "toolu_1", "content": "a\n\nb"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Here you go."},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
                ],
            },
        ],
        "user": "u-1",
        "tools": [
            {"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "look"}},
        "parallel_tool_calls": False,
    }


def test_text_only_turns_become_one_string_for_string_only_vendors() -> None:
    body = from_anthropic(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]},
                {"role": "user", "content": []},
            ],
        }
    )
    assert body["messages"] == [
        {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": ""},
    ]


def test_image_urls_stay_urls_and_empty_tool_results_stay_empty() -> None:
    openai_body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x.test/b.gif"}}],
            }
        ],
    }
    image = from_openai(openai_body)["messages"][0]["content"][0]
    assert image == {"type": "image", "source": {"type": "url", "url": "https://x.test/b.gif"}}
    body = from_anthropic(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
            ],
            "tools": [{"name": "f", "input_schema": {}}],
        }
    )
    assert body["messages"] == [{"role": "tool", "tool_call_id": "t", "content": ""}]
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


@pytest.mark.parametrize(
    ("anthropic_choice", "openai_choice"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "look"}, {"type": "function", "function": {"name": "look"}}),
    ],
)
def test_tool_choice_maps_both_ways(anthropic_choice: dict[str, Any], openai_choice: Any) -> None:
    tool = {"name": "look", "input_schema": {"type": "object"}}
    anthropic_body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [tool],
        "tool_choice": anthropic_choice,
    }
    openai_body = from_anthropic(anthropic_body)
    assert openai_body["tool_choice"] == openai_choice
    assert from_openai(openai_body)["tool_choice"] == anthropic_choice


def test_a_stream_asks_the_openai_upstream_for_its_usage_chunk() -> None:
    body = from_anthropic(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
        }
    )
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "server_tool_use", "id": "s", "name": "w"}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "search_result"}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
    ],
)
def test_what_openai_cannot_express_is_refused_not_dropped(
    change: dict[str, Any], param: str
) -> None:
    payload = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(InvalidRequest) as caught:
        from_anthropic({**payload, **change})
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]},
            "messages[0].tool_calls[0]",
        ),
        ({"messages": [{"role": "assistant", "tool_calls": "x"}]}, "messages[0].tool_calls"),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function"},
            },
            "tool_choice",
        ),
    ],
)
def test_what_anthropic_cannot_express_is_refused(change: dict[str, Any], param: str) -> None:
    payload = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(InvalidRequest) as caught:
        from_openai({**payload, **change})
    assert caught.value.param == param


def test_anthropic_limits_and_ranges_are_applied() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert from_openai(base, default_max_tokens=777)["max_tokens"] == 777
    chosen = from_openai({**base, "max_tokens": 9, "max_completion_tokens": 11})
    assert chosen["max_tokens"] == 11
    clamped = from_openai({**base, "temperature": 1.7, "stop": "END", "n": 1})
    assert (clamped["temperature"], clamped["stop_sequences"]) == (1, ["END"])


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    body = from_openai(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "parallel_tool_calls": False,
        }
    )
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_history_with_broken_tool_arguments_is_still_served() -> None:
    body = from_openai(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Dev rule."}]},
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [{"type": "refusal", "refusal": "no"}],
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{"},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[1]"},
                        },
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}},
                    ],
                },
                {"role": "assistant", "content": ""},
            ],
        }
    )
    assert body["system"] == "Dev rule."
    assert [b.get("input") for b in body["messages"][1]["content"]] == [None, {}, {}, {}]
    assert len(body["messages"]) == 2  # the empty assistant turn carries nothing


# --- responses --------------------------------------------------------------------------


def openai_reply(message: dict[str, Any], finish: str | None, **usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or None,
    }


def test_an_openai_tool_call_reply_becomes_an_anthropic_message() -> None:
    reply = openai_reply(
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                },
                {"type": "function", "function": {"name": "weather", "arguments": "{oops"}},
            ],
        },
        "tool_calls",
        prompt_tokens=1117,
        completion_tokens=58,
        prompt_tokens_details={"cached_tokens": 1024},
    )
    message = openai_response_to_anthropic(reply, model="claude-alias")
    assert message == {
        "id": "msg_abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-alias",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 93,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1024,
            "output_tokens": 58,
        },
    }
    anthropic.types.Message.model_validate(message)


@pytest.mark.parametrize(
    ("finish", "has_tools", "stop"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("tool_calls", True, "tool_use"),
        ("function_call", True, "tool_use"),
        ("content_filter", False, "refusal"),
        ("stop", True, "tool_use"),  # vendors that say "stop" while calling tools
        (None, False, "end_turn"),
        ("weird", False, "end_turn"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: Any, has_tools: bool, stop: str) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    if has_tools:
        message["tool_calls"] = [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]
    reply = openai_response_to_anthropic(openai_reply(message, finish))
    assert reply["stop_reason"] == stop


def test_the_stop_reason_tables_cover_every_anthropic_reason() -> None:
    anthropic_reasons = set(typing.get_args(anthropic.types.StopReason))
    assert set(ANTHROPIC_TO_OPENAI_STOP) == anthropic_reasons
    assert set(OPENAI_TO_ANTHROPIC_STOP.values()) <= anthropic_reasons


def test_an_upstream_msg_id_is_kept_and_a_missing_one_is_named() -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    reply = openai_response_to_anthropic({**openai_reply(message, "stop"), "id": "msg_up"})
    assert reply["id"] == "msg_up"
    reply = openai_response_to_anthropic({**openai_reply(message, "stop"), "id": None})
    assert reply["id"] == "msg_unknown"


def test_reasoning_refusal_and_vendor_usage_are_carried_over() -> None:
    body = fixture("deepseek_chat_cache_hit.json")
    usage = usage_from_preset("deepseek", body["usage"])
    message = openai_response_to_anthropic(body, usage=usage)
    assert message["usage"]["cache_read_input_tokens"] == 1152
    assert message["usage"]["input_tokens"] == 48
    thinking = openai_response_to_anthropic(fixture("deepseek_reasoner.json"))
    assert [b["type"] for b in thinking["content"]] == ["thinking", "text"]
    assert thinking["usage"]["output_tokens_details"] == {"thinking_tokens": 81}
    refused = openai_response_to_anthropic(
        openai_reply({"role": "assistant", "content": None, "refusal": "I can't."}, "stop")
    )
    assert refused["content"] == [{"type": "text", "text": "I can't."}]
    assert (refused["stop_reason"], refused["usage"]["output_tokens"]) == ("refusal", 0)
    parts = openai_response_to_anthropic(
        openai_reply({"role": "assistant", "content": [{"type": "text", "text": "hi"}]}, "stop")
    )
    assert parts["content"] == [{"type": "text", "text": "hi"}]


@pytest.mark.parametrize(
    "reply",
    [
        {},
        {"choices": []},
        {"choices": ["x"]},
        {"choices": [{"message": None}]},
        {"choices": [{"message": {"tool_calls": [{"function": {}}]}}]},
    ],
)
def test_an_unreadable_openai_reply_is_a_protocol_error(reply: dict[str, Any]) -> None:
    with pytest.raises(UpstreamProtocolError):
        openai_response_to_anthropic(reply)


def test_an_anthropic_message_becomes_an_openai_completion() -> None:
    message = fixture("anthropic_message.json")
    message["content"] += [
        {"type": "thinking", "thinking": "why", "signature": "s"},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": 1}},
        {"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
    ]
    completion = anthropic_response_to_openai(message, created=1700000000, model="gpt-alias")
    assert completion == {
        "id": "msg_01EfKQ8cS5yrrXnWXJkFqj4c",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-alias",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": message["content"][0]["text"],
                    "refusal": None,
                    "reasoning_content": "why",
                    "tool_calls": [
                        {
                            "id": "toolu_9",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a":1}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 21 + 188086,
            "completion_tokens": 393,
            "total_tokens": 21 + 188086 + 393,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_input_tokens": 188086},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    openai.types.chat.ChatCompletion.model_validate(completion)


@pytest.mark.parametrize(("stop", "finish"), sorted(ANTHROPIC_TO_OPENAI_STOP.items()))
def test_stop_reasons_map_to_finish_reasons(stop: str, finish: str) -> None:
    message: dict[str, Any] = {"id": "msg_1", "content": [], "stop_reason": stop, "usage": None}
    completion = anthropic_response_to_openai(message, created=0, usage=Usage(input_tokens=1))
    assert completion["choices"][0]["finish_reason"] == finish
    assert completion["choices"][0]["message"]["content"] is None
    assert completion["usage"]["prompt_tokens"] == 1


def test_an_anthropic_message_without_content_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        anthropic_response_to_openai({"id": "msg_1"}, created=0)


def test_an_explicit_usage_wins_over_the_body() -> None:
    translate = functools.partial(anthropic_response_to_openai, created=0)
    message = fixture("anthropic_message.json")
    assert translate(message, usage=Usage(input_tokens=3))["usage"]["prompt_tokens"] == 3
