"""The simulator's pure rules: tokens, reply plans, tool calls, faults, SSE and embeddings."""

from __future__ import annotations

import base64
import json
import math
from array import array
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.config.schema import SimulatorSettings
from tokenward.providers.simulator.embeddings import (
    embed,
    embedding_tokens,
    embeddings_body,
    parse_embeddings,
)
from tokenward.providers.simulator.engine import (
    IMAGE_TOKENS,
    ChatRequest,
    Directives,
    ReplyPlan,
    cached_tokens_for,
    count_prompt_tokens,
    count_text_tokens,
    decide_fault,
    plan_chat,
    request_hash,
    token_pieces,
)
from tokenward.providers.simulator.sse import split_even, stream_plan
from tokenward.providers.simulator.wire import (
    SimRequestError,
    completion_body,
    parse_chat,
    read_directives,
)

MODELS = ("sim-small", "sim-reasoner", "sim-embed")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "detailed": {"type": "boolean"},
                "when": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    "required": ["lat", "lon"],
                },
                "optional_note": {"type": "string"},
            },
            "required": ["city", "days", "unit", "detailed", "when", "tags", "where"],
        },
    },
}


def chat(body: dict[str, Any], headers: dict[str, str] | None = None) -> ChatRequest:
    return parse_chat({"model": "sim-small", **body}, MODELS, headers or {})


def plan(body: dict[str, Any], sim: SimulatorSettings | None = None) -> ReplyPlan:
    return plan_chat(chat(body), sim or SimulatorSettings(), request_id="req-1")


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   \n\t", 0),
        ("Hello, world!", 4),
        ("don't", 3),
        ("snake_case42 x", 2),
        ("你好世界", 4),
        ("token 经济 abc", 4),
        ("日本語とカタカナ", 8),
        ("한국어", 3),
        ("€100 → £90", 5),
    ],
)
def test_text_tokens_follow_the_documented_rule(text: str, tokens: int) -> None:
    """Words and punctuation count one each; each CJK character counts one."""
    assert count_text_tokens(text) == tokens


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_token_pieces_rebuild_the_text_one_token_each(text: str) -> None:
    """Splitting at token starts loses nothing and puts exactly one token in each piece."""
    pieces = token_pieces(text)
    assert "".join(pieces) == text
    assert all(count_text_tokens(p) == 1 for p in pieces) or count_text_tokens(text) == 0
    assert sum(count_text_tokens(p) for p in pieces) == count_text_tokens(text)


def test_prompt_tokens_count_overheads_names_images_tool_calls_and_tools() -> None:
    """3 per request, 4 per message, text tokens, 85 per image, tool calls and tool specs."""
    assert count_prompt_tokens(user("Hello, world!")) == 3 + 4 + 4
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert count_prompt_tokens([{"role": "user", "content": parts}]) == 3 + 4 + 4 + IMAGE_TOKENS
    named = [{"role": "user", "content": "hi", "name": "alice"}]
    assert count_prompt_tokens(named) == 3 + 4 + 1 + 1
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    history = [{"role": "assistant", "content": None, "tool_calls": [call]}]
    assert count_prompt_tokens(history) == 3 + 4 + 1 + 7
    spec = orjson.dumps(WEATHER["function"], option=orjson.OPT_SORT_KEYS).decode()
    assert count_prompt_tokens(user("hi"), [WEATHER]) == 3 + 4 + 1 + count_text_tokens(spec)


@pytest.mark.parametrize(("prompt", "cached"), [(0, 0), (63, 0), (64, 32), (127, 32), (200, 96)])
def test_cached_tokens_are_half_of_each_whole_64_token_block(prompt: int, cached: int) -> None:
    assert cached_tokens_for(prompt) == cached


def test_same_request_gives_the_identical_body_and_the_seed_changes_it() -> None:
    """Determinism: the reply depends only on (seed, canonical body, request id)."""
    body = {"messages": user("Tell me about tokens."), "temperature": 0.2}
    first = orjson.dumps(completion_body(plan(body), created=1))
    again = orjson.dumps(completion_body(plan(dict(reversed(body.items()))), created=1))
    other_seed = completion_body(plan(body, SimulatorSettings(seed=7)), created=1)
    assert first == again
    assert (
        other_seed["choices"][0]["message"]["content"]
        != json.loads(first)["choices"][0]["message"]["content"]
    )
    assert request_hash({**body, "stream": True, "stream_options": {}}) == request_hash(body)


def test_reply_length_is_seeded_within_bounds_and_each_word_is_one_token() -> None:
    sim = SimulatorSettings(min_output_tokens=5, max_output_tokens=9)
    for i in range(20):
        reply = completion_body(plan({"messages": user(f"q{i}")}, sim), created=1)
        content = reply["choices"][0]["message"]["content"]
        usage = reply["usage"]
        assert 5 <= usage["completion_tokens"] <= 9
        assert count_text_tokens(content) == usage["completion_tokens"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert reply["choices"][0]["finish_reason"] == "stop"


def test_max_tokens_caps_the_reply_with_finish_reason_length() -> None:
    capped = plan(
        {"messages": user("hi"), "max_tokens": 3, "metadata": {"sim_output_tokens": "10"}}
    )
    assert capped.completion_tokens == 3
    assert capped.choices[0].finish_reason == "length"
    both = plan({"messages": user("hi"), "max_tokens": 9, "max_completion_tokens": 4})
    assert both.completion_tokens <= 4


def test_n_choices_differ_and_usage_sums_them() -> None:
    reply = completion_body(plan({"messages": user("hi"), "n": 3}), created=1)
    contents = [c["message"]["content"] for c in reply["choices"]]
    assert [c["index"] for c in reply["choices"]] == [0, 1, 2]
    assert len(set(contents)) == 3
    assert reply["usage"]["completion_tokens"] == sum(count_text_tokens(c) for c in contents)


def test_reasoner_spends_reasoning_tokens_first_and_reports_them() -> None:
    body = {
        "model": "sim-reasoner",
        "messages": user("think"),
        "metadata": {"sim_reasoning_tokens": "6", "sim_output_tokens": "4"},
    }
    reply = completion_body(plan(body), created=1)
    message, usage = reply["choices"][0]["message"], reply["usage"]
    assert count_text_tokens(message["reasoning_content"]) == 6
    assert usage["completion_tokens"] == 10
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 6
    capped = plan({**body, "max_tokens": 8})
    assert (capped.reasoning_tokens, capped.completion_tokens) == (6, 8)
    assert capped.choices[0].finish_reason == "length"


def test_tool_call_arguments_are_json_with_every_required_property_typed() -> None:
    reply = completion_body(plan({"messages": user("weather?"), "tools": [WEATHER]}), created=1)
    choice = reply["choices"][0]
    [call] = choice["message"]["tool_calls"]
    args = json.loads(call["function"]["arguments"])
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert call["id"].startswith("call_") and call["function"]["name"] == "get_weather"
    assert set(args) == set(WEATHER["function"]["parameters"]["required"])  # type: ignore[index]
    assert isinstance(args["city"], str) and args["city"]
    assert isinstance(args["days"], int) and 1 <= args["days"] <= 7
    assert args["unit"] in ("celsius", "fahrenheit") and isinstance(args["detailed"], bool)
    assert len(args["when"]) == 10 and isinstance(args["tags"], list)
    assert isinstance(args["where"]["lat"], float)
    expected = count_text_tokens("get_weather") + count_text_tokens(call["function"]["arguments"])
    assert reply["usage"]["completion_tokens"] == expected


@pytest.mark.parametrize(
    ("extra", "calls"),
    [
        ({}, True),
        ({"tool_choice": "none"}, False),
        ({"tool_choice": "required"}, True),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, True),
        ({"after_tool": True}, False),
        ({"after_tool": True, "tool_choice": "required"}, True),
    ],
)
def test_tool_calls_follow_tool_choice_and_the_last_message(
    extra: dict[str, Any], calls: bool
) -> None:
    messages: list[dict[str, Any]] = user("weather?")
    if extra.pop("after_tool", False):
        call = {
            "id": "c",
            "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"},
        }
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c", "content": "sunny"},
        ]
    reply = plan({"messages": messages, "tools": [WEATHER], **extra})
    assert bool(reply.choices[0].tool_calls) is calls


def test_tool_calls_directive_and_the_too_small_cap_fallback() -> None:
    other = {"type": "function", "function": {"name": "noop", "parameters": {}}}
    many = plan(
        {"messages": user("go"), "tools": [WEATHER, other], "metadata": {"sim_tool_calls": "3"}}
    )
    assert len(many.choices[0].tool_calls) == 3
    assert {c.name for c in many.choices[0].tool_calls} == {"get_weather", "noop"}
    tiny = plan({"messages": user("go"), "tools": [WEATHER], "max_tokens": 2})
    assert tiny.choices[0].tool_calls == () and tiny.completion_tokens == 2
    assert tiny.choices[0].finish_reason == "length"


def events(reply: ReplyPlan, chunk_count: int, include_usage: bool) -> list[dict[str, Any]]:
    sp = stream_plan(reply, created=1, chunk_count=chunk_count, include_usage=include_usage)
    payloads = [*sp.head, *(p.data for p in sp.pieces), *sp.tail]
    return [orjson.loads(p) for p in [*payloads, *([sp.usage] if sp.usage else [])]]


@pytest.mark.parametrize("chunk_count", [0, 1, 4, 7])
def test_stream_splits_into_the_asked_chunks_and_rebuilds_the_reply(chunk_count: int) -> None:
    reply = plan({"messages": user("stream"), "metadata": {"sim_output_tokens": "20"}})
    chunks = events(reply, chunk_count, include_usage=False)
    content = [c["choices"][0]["delta"].get("content") for c in chunks]
    texts = [t for t in content[1:] if t]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(texts) == (chunk_count or 20)
    assert "".join(texts) == completion_body(reply, created=1)["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_include_usage_adds_a_final_usage_chunk_and_nulls_elsewhere() -> None:
    reply = plan({"messages": user("stream"), "n": 2})
    chunks = events(reply, 3, include_usage=True)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == reply.usage()
    finishes = [c["choices"][0]["index"] for c in chunks[:-1] if c["choices"][0]["finish_reason"]]
    assert sorted(finishes) == [0, 1]


def test_streamed_tool_call_has_a_header_then_argument_fragments() -> None:
    reply = plan({"messages": user("weather?"), "tools": [WEATHER]})
    deltas = [c["choices"][0]["delta"] for c in events(reply, 0, include_usage=False)]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    header, fragments = calls[0], calls[1:]
    assert header["id"].startswith("call_") and header["type"] == "function"
    assert header["function"] == {"name": "get_weather", "arguments": ""}
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    assert arguments == reply.choices[0].tool_calls[0].arguments
    sp = stream_plan(reply, created=1, chunk_count=0, include_usage=False)
    assert sp.planned_tokens == reply.completion_tokens


def test_split_even_makes_exactly_k_chunks_when_there_are_enough_pieces() -> None:
    assert split_even(list("abcdefg"), 3) == ["abc", "de", "fg"]
    assert split_even(list("ab"), 5) == ["a", "b"]
    assert split_even(list("ab"), 0) == ["a", "b"]


def test_fault_rates_are_deterministic_and_a_retry_may_succeed() -> None:
    sim = SimulatorSettings(error_rate=0.5)
    none = Directives()
    first = [decide_fault(f"r{i}", none, sim, seen=0, stream=False) for i in range(200)]
    retry = [decide_fault(f"r{i}", none, sim, seen=1, stream=False) for i in range(200)]
    assert first == [decide_fault(f"r{i}", none, sim, seen=0, stream=False) for i in range(200)]
    assert 60 < first.count("error") < 140
    assert any(a == "error" and b is None for a, b in zip(first, retry, strict=True))
    assert (
        decide_fault("x", none, SimulatorSettings(broken_stream_rate=1.0), seen=0, stream=False)
        is None
    )
    assert (
        decide_fault("x", none, SimulatorSettings(broken_stream_rate=1.0), seen=0, stream=True)
        == "broken"
    )
    assert (
        decide_fault("x", none, SimulatorSettings(rate_limit_rate=1.0), seen=3, stream=True)
        == "rate_limit"
    )


def test_fault_directive_applies_for_fault_times_sightings() -> None:
    once = Directives(fault="error", fault_times=1)
    always = Directives(fault="timeout")
    sim = SimulatorSettings()
    assert decide_fault("k", once, sim, seen=0, stream=False) == "error"
    assert decide_fault("k", once, sim, seen=1, stream=False) is None
    assert decide_fault("k", always, sim, seen=9, stream=False) == "timeout"


def test_directives_come_from_metadata_and_headers_override() -> None:
    found = read_directives(
        {"sim_output_tokens": "12", "sim_fault": "broken", "user_field": "kept out"},
        {"x-sim-output-tokens": "5", "x-sim-chunk-delay-ms": "2.5", "x-sim-tag": "team-a"},
    )
    assert found == Directives(output_tokens=5, chunk_delay_ms=2.5, fault="broken", tag="team-a")


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ([], 400, None),
        ({"messages": user("hi")}, 400, "model"),
        ({"model": "gpt-9", "messages": user("hi")}, 404, "model"),
        ({"model": "sim-small", "messages": []}, 400, "messages"),
        (
            {"model": "sim-small", "messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages[0].role",
        ),
        (
            {"model": "sim-small", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            400,
            "messages[0].content[0]",
        ),
        ({"model": "sim-small", "messages": user("x"), "n": 0}, 400, "n"),
        ({"model": "sim-small", "messages": user("x"), "max_tokens": 1.5}, 400, "max_tokens"),
        (
            {
                "model": "sim-small",
                "messages": user("x"),
                "stream_options": {"include_usage": True},
            },
            400,
            "stream_options",
        ),
        (
            {"model": "sim-small", "messages": user("x"), "tool_choice": "required"},
            400,
            "tool_choice",
        ),
        (
            {"model": "sim-small", "messages": user("x"), "tools": [{"type": "function"}]},
            400,
            "tools[0]",
        ),
        (
            {"model": "sim-small", "messages": user("x"), "metadata": {"sim_fault": "fire"}},
            400,
            "metadata.sim_fault",
        ),
        (
            {"model": "sim-small", "messages": user("x"), "metadata": {"sim_bogus": "1"}},
            400,
            "metadata.sim_bogus",
        ),
    ],
)
def test_bad_chat_bodies_are_refused_in_openai_shape(
    body: Any, status: int, param: str | None
) -> None:
    with pytest.raises(SimRequestError) as caught:
        parse_chat(body, MODELS, {})
    assert caught.value.status == status
    assert caught.value.param == param
    error = caught.value.payload()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if status == 404:
        assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"


def test_embeddings_are_deterministic_unit_vectors_in_both_encodings() -> None:
    first = embed("hello", seed=0, model="sim-embed", dims=256)
    assert first == embed("hello", seed=0, model="sim-embed", dims=256)
    assert first != embed("hello", seed=1, model="sim-embed", dims=256)
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-5)
    short = embed("hello", seed=0, model="sim-embed", dims=8)
    assert len(short) == 8 and math.isclose(math.fsum(v * v for v in short), 1.0, rel_tol=1e-5)
    request = parse_embeddings(
        {"model": "sim-embed", "input": ["a b", "c"], "encoding_format": "base64"}, MODELS, {}
    )
    body = embeddings_body(request, seed=0, prompt_tokens=3)
    decoded = array("f", base64.b64decode(body["data"][0]["embedding"])).tolist()
    assert decoded == embed("a b", seed=0, model="sim-embed", dims=256)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


@pytest.mark.parametrize(
    ("value", "tokens"),
    [("a b, c", 4), (["a", "b c"], 3), ([1, 2, 3], 3), ([[1, 2], [3]], 3)],
)
def test_embedding_inputs_and_their_tokens(value: Any, tokens: int) -> None:
    request = parse_embeddings({"model": "sim-small", "input": value}, MODELS, {})
    assert embedding_tokens(request.inputs) == tokens


@pytest.mark.parametrize("value", ["", [], [""], [1, "a"], [[]], None, 5])
def test_bad_embedding_inputs_are_400(value: Any) -> None:
    with pytest.raises(SimRequestError) as caught:
        parse_embeddings({"model": "sim-embed", "input": value}, MODELS, {})
    assert caught.value.status == 400 and caught.value.param == "input"
