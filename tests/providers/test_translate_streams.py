"""Translated SSE streams are what the official SDKs expect, and book the right usage.

Each direction is replayed through the real client library (anthropic / openai) over
a MockTransport of httpx2 (the HTTP package these SDK versions are built on; they
refuse plain httpx clients): if the SDK accumulates the message we meant, the event
sequence is valid for it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from tokenward.errors import UpstreamError
from tokenward.metering.usage import Usage
from tokenward.providers.dialects.translate import (
    AnthropicEvent,
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    encode_anthropic_event,
    encode_openai_chunk,
)
from tokenward.providers.presets import usage_from_preset

FIXTURES = Path(__file__).parent / "fixtures"


def openai_chunks(name: str) -> list[dict[str, Any]]:
    """The `data:` payloads of a recorded OpenAI stream, without `[DONE]`."""
    chunks = []
    for line in (FIXTURES / name).read_text().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunks.append(orjson.loads(line[6:]))
    return chunks


def anthropic_events(name: str) -> list[tuple[str, dict[str, Any]]]:
    events, event = [], ""
    for line in (FIXTURES / name).read_text().splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, orjson.loads(line[6:])))
    return events


def to_anthropic(chunks: list[dict[str, Any]], **options: Any) -> list[AnthropicEvent]:
    stream = OpenAIToAnthropicStream(model="claude-alias", **options)
    events = [event for chunk in chunks for event in stream.feed(chunk)]
    return events + stream.finish()


def to_openai(
    events: list[tuple[str, dict[str, Any]]], **options: Any
) -> tuple[list[dict[str, Any]], AnthropicToOpenAIStream]:
    stream = AnthropicToOpenAIStream(created=1700000000, **options)
    chunks = [chunk for name, data in events for chunk in stream.feed(name, data)]
    return chunks + stream.finish(), stream


def sse_transport(body: bytes) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.MockTransport(handler)


@contextmanager
def anthropic_client(events: list[AnthropicEvent]) -> Iterator[anthropic.Anthropic]:
    body = b"".join(encode_anthropic_event(event) for event in events)
    with httpx2.Client(transport=sse_transport(body)) as http:
        yield anthropic.Anthropic(
            api_key="tw-test", base_url="http://gateway.test", http_client=http, max_retries=0
        )


@contextmanager
def openai_client(chunks: list[dict[str, Any]]) -> Iterator[openai.OpenAI]:
    body = b"".join(encode_openai_chunk(chunk) for chunk in chunks) + b"data: [DONE]\n\n"
    with httpx2.Client(transport=sse_transport(body)) as http:
        yield openai.OpenAI(
            api_key="tw-test", base_url="http://gateway.test/v1", http_client=http, max_retries=0
        )


def assert_valid_event_order(events: list[AnthropicEvent]) -> None:
    """message_start, then blocks opened and closed in index order, then delta and stop."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    open_index, next_index = None, 0
    for name, data in events[1:-2]:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
    assert open_index is None


# --- OpenAI chunks -> Anthropic events ---------------------------------------------------


def test_an_openai_tool_call_stream_replays_through_the_anthropic_sdk() -> None:
    events = to_anthropic(openai_chunks("openai_stream_tool_call.sse"))
    assert_valid_event_order(events)
    with (
        anthropic_client(events) as client,
        client.messages.stream(
            model="claude-alias", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    assert "".join(texts) == "Let me check the weather in both cities."
    assert message.model == "claude-alias" and message.id == "msg_C1x9tool"
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert calls == [
        ("call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather", {"location": "Paris"}),
        ("call_ABCDEF1234567890abcdefXY", "get_weather", {"location": "Tokyo"}),
    ]
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (
        93,
        1024,
        58,
    )
    assert usage.cache_creation_input_tokens == 0


def test_reasoning_streams_as_a_thinking_block_before_the_text() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "r1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [
        chunk({"role": "assistant", "content": None, "reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Answer"}),
        chunk({}, "length"),
        {
            "id": "r1",
            "choices": [],
            "usage": {
                "prompt_tokens": 6,
                "completion_tokens": 92,
                "prompt_cache_hit_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 81},
            },
        },
    ]
    stream = OpenAIToAnthropicStream(
        model="m", usage_parser=functools.partial(usage_from_preset, "deepseek")
    )
    events = [event for c in chunks for event in stream.feed(c)] + stream.finish()
    assert_valid_event_order(events)
    assert stream.usage == Usage(6, 4, 0, 92, 81)
    with (
        anthropic_client(events) as client,
        client.messages.stream(
            model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as replay,
    ):
        message = replay.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].type == "thinking" and message.content[0].thinking == "Thinking."
    assert message.stop_reason == "max_tokens"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (2, 4)
    assert message.usage.output_tokens == 92


def test_usage_repeated_on_several_chunks_books_the_last_value() -> None:
    def chunk(completion: int, content: str) -> dict[str, Any]:
        delta = {"content": content}
        usage = {"prompt_tokens": 5, "completion_tokens": completion}
        return {"id": "x", "choices": [{"index": 0, "delta": delta}], "usage": usage}

    stream = OpenAIToAnthropicStream(model="m")
    for completion, content in ((1, "a"), (2, "b"), (3, "c")):
        stream.feed(chunk(completion, content))
    stream.feed({"id": "x", "choices": [], "usage": {"prompt_tokens": "bad"}})
    assert stream.usage == Usage(input_tokens=5, output_tokens=3)
    name, final = stream.finish()[-2]
    assert name == "message_delta" and final["usage"]["output_tokens"] == 3


def test_a_stream_without_usage_closes_cleanly_and_takes_an_estimate() -> None:
    stream = OpenAIToAnthropicStream(model="m", message_id="msg_fixed", input_tokens=12)
    start = stream.feed({"id": "c", "choices": [{"index": 1, "delta": {"content": "ignored"}}]})
    assert start[0][1]["message"]["usage"] == {"input_tokens": 12, "output_tokens": 0}
    assert start[0][1]["message"]["id"] == "msg_fixed" and len(start) == 1
    estimate = Usage(input_tokens=12, output_tokens=7, estimated=True)
    events = stream.finish(usage=estimate)
    assert [name for name, _ in events] == ["message_delta", "message_stop"]
    assert events[0][1]["usage"]["output_tokens"] == 7
    assert stream.finish() == [] and stream.feed({"choices": []}) == []
    empty = OpenAIToAnthropicStream(model="m").finish()
    assert_valid_event_order(empty)
    assert empty[1][1]["usage"] == {"output_tokens": 0}


def test_tool_calls_without_index_or_id_still_get_their_own_blocks() -> None:
    calls = [
        {"function": {"name": "a", "arguments": '{"x":1}'}},
        {"function": {"name": "b", "arguments": ""}},
        "junk",
    ]
    stream = OpenAIToAnthropicStream(model="m")
    events = stream.feed({"id": "c", "choices": [{"delta": {"tool_calls": calls}}]})
    events += stream.finish()
    assert_valid_event_order(events)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [(s["name"], s["id"]) for s in starts] == [
        ("a", "toolu_msg_c_0"),
        ("b", "toolu_msg_c_1"),
    ]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


# --- Anthropic events -> OpenAI chunks ---------------------------------------------------


def test_an_anthropic_tool_use_stream_replays_through_the_openai_sdk() -> None:
    chunks, stream = to_openai(anthropic_events("anthropic_stream_tool_use.sse"))
    with (
        openai_client(chunks) as client,
        client.chat.completions.stream(
            model="gpt-alias",
            messages=[{"role": "user", "content": "weather?"}],
            stream_options={"include_usage": True},
        ) as replay,
    ):
        completion = replay.get_final_completion()
    choice = completion.choices[0]
    assert choice.message.content == "Okay, let me check the weather in San Francisco."
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name) for c in calls] == [
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")
    ]
    assert orjson.loads(calls[0].function.arguments) == {
        "location": "San Francisco, CA",
        "unit": "fahrenheit",
    }
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (1496, 89)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1024
    assert stream.usage == Usage(input_tokens=1496, cached_input_tokens=1024, output_tokens=89)
    assert stream.usage_complete


def test_cumulative_message_deltas_are_booked_as_the_last_value_not_the_sum() -> None:
    """R-SSE-4: a server-tool stream repeats running totals in two message_delta events."""
    chunks, stream = to_openai(anthropic_events("anthropic_stream_server_tool.sse"))
    expected = Usage(input_tokens=10412 + 2048, cached_input_tokens=2048, output_tokens=310)
    assert stream.usage == expected  # not 120 + 310 output tokens
    with openai_client(chunks) as client:
        replay = client.chat.completions.create(
            model="gpt-alias",
            messages=[{"role": "user", "content": "weather NYC"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        received = list(replay)
    usage = received[-1].usage
    assert usage is not None and received[-1].choices == []
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12460, 310, 12770)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == "I'll search for that.It is sunny and 22°C in New York today."
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in received)
    assert [c.choices[0].finish_reason for c in received if c.choices][-1] == "stop"


def test_a_client_that_did_not_ask_for_usage_gets_no_usage_chunk() -> None:
    chunks, stream = to_openai(
        anthropic_events("anthropic_stream_tool_use.sse"), include_usage=False, model="gpt-alias"
    )
    assert all("usage" not in chunk and chunk["choices"] for chunk in chunks)
    assert {chunk["model"] for chunk in chunks} == {"gpt-alias"}
    assert stream.usage is not None and stream.usage.output_tokens == 89


def test_thinking_streams_as_reasoning_content_and_eof_still_finishes() -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 3}}}),
        (
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        ),
        ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": "Hi"}}),
        (
            "content_block_start",
            {
                "index": 2,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
            },
        ),
        (
            "content_block_delta",
            {"index": 9, "delta": {"type": "input_json_delta", "partial_json": "x"}},
        ),
        ("message_delta", {"delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 4}}),
    ]
    chunks, stream = to_openai(events)  # the upstream hung up before message_stop
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[1:4] == [
        {"reasoning_content": "hm"},
        {"content": "Hi"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "t",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a":1}'},
                }
            ]
        },
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert stream.finish() == [] and stream.feed("message_stop", {}) == []


def test_an_error_event_is_an_upstream_error() -> None:
    stream = AnthropicToOpenAIStream(created=0)
    assert stream.feed("ping", {"type": "ping"}) == []
    with pytest.raises(UpstreamError, match="Overloaded"):
        stream.feed(
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )


def test_blocks_without_an_openai_form_produce_no_chunks() -> None:
    stream = AnthropicToOpenAIStream(created=0)
    stream.feed("message_start", {"message": {"id": "msg_3"}})
    assert stream.feed("content_block_start", {"index": 0}) == []
    server = {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}
    assert stream.feed("content_block_start", {"index": 1, "content_block": server}) == []
    json_delta = {"type": "input_json_delta", "partial_json": '{"q": 1}'}
    assert stream.feed("content_block_delta", {"index": 1, "delta": json_delta}) == []
    assert stream.feed("content_block_stop", {"index": 1}) == []


def test_event_names_fall_back_to_the_data_type() -> None:
    stream = AnthropicToOpenAIStream(created=0, include_usage=False)
    chunks = stream.feed("", {"type": "message_start", "message": {"id": "msg_2"}})
    assert chunks[0]["id"] == "msg_2" and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert stream.finish()[0]["choices"][0]["finish_reason"] == "stop"
    assert stream.usage is None
