"""`tokenward simulate --dialect ...` over real HTTP: the Anthropic SDK and every preset's usage.

One simulator process, started with `--dialect anthropic`; the preset tests switch
the dialect at run time (`POST /_sim/config`) and put it back. Every usage a client
sees is compared with the journal (the simulator's billed oracle), and the journal
with the engine's own rules, computed here independently.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.helpers.processes import RunningProcess, free_port, start_process
from tokenward.metering.anthropic import usage_from_anthropic
from tokenward.metering.usage import Usage
from tokenward.providers.dialects.translate import anthropic_request_to_openai
from tokenward.providers.presets import usage_from_preset
from tokenward.providers.simulator.dialects import cache_write_tokens_for
from tokenward.providers.simulator.engine import (
    cached_tokens_for,
    count_prompt_tokens,
    count_text_tokens,
)

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))
#: long enough (> 64 tokens) for cache reads and writes to be non-zero
LONG = " ".join(f"rule{i} applies to every answer you give." for i in range(20))
SYSTEM: Any = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
HELLO: Any = [{"role": "user", "content": "What is the weather like today?"}]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
OPENAI_PRESETS = ("openai", "deepseek", "zhipu", "qwen", "doubao", "minimax", "vllm", "sglang")
PRESETS = (*OPENAI_PRESETS, "ollama")


class Sim:
    def __init__(self, process: RunningProcess, port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10, trust_env=False)
        self._ids = 0

    def request_id(self) -> str:
        self._ids += 1
        return f"dialect-{self._ids}"

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key="x", base_url=self.url, max_retries=0)

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(api_key="x", base_url=f"{self.url}/v1", max_retries=0)

    def entry(self, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found: list[dict[str, Any]] = self.http.get(
                "/_sim/journal", params={"request_id": request_id}
            ).json()
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no journal entry for {request_id}")

    @contextmanager
    def dialect(self, name: str) -> Iterator[None]:
        assert self.http.post("/_sim/config", json={"dialect": name}).status_code == 200
        try:
            yield
        finally:
            self.http.post("/_sim/config", json={"dialect": "anthropic"})


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    work = tmp_path_factory.mktemp("simulate-dialects")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    process = start_process(
        [
            TOKENWARD,
            "simulate",
            "--port",
            str(port),
            "--dialect",
            "anthropic",
            "--journal",
            str(work / "journal.jsonl"),
            "--seed",
            "5",
        ],
        env={**env, "TOKENWARD_HOME": str(work)},
        health_url=f"http://127.0.0.1:{port}/_sim/health",
    )
    try:
        yield Sim(process, port)
    finally:
        process.stop()


def billed(entry: dict[str, Any]) -> Usage:
    """The journal's canonical numbers as a `Usage`."""
    return Usage(
        input_tokens=entry["prompt_tokens"],
        cached_input_tokens=entry["cached_tokens"],
        cache_write_tokens=entry["cache_write_tokens"],
        output_tokens=entry["completion_tokens"],
        reasoning_tokens=entry["reasoning_tokens"],
    )


def engine_prompt_tokens(payload: dict[str, Any]) -> int:
    """The engine's rule for a Messages body: the tokens of its OpenAI translation."""
    body = anthropic_request_to_openai(payload)
    return count_prompt_tokens(body["messages"], body.get("tools", ()))


def sdk_usage(message: anthropic.types.Message) -> Usage | None:
    return usage_from_anthropic(message.usage.model_dump())


# --- the Anthropic dialect, with the official SDK ---------------------------------------


def test_create_reports_the_journal_numbers_with_cache_reads_and_writes(sim: Sim) -> None:
    rid = sim.request_id()
    payload: Any = {"model": "sim-small", "max_tokens": 200, "system": SYSTEM, "messages": HELLO}
    message = sim.anthropic().messages.create(**payload, extra_headers={"x-request-id": rid})
    entry = sim.entry(rid)
    assert (entry["endpoint"], entry["dialect"], entry["status"]) == ("messages", "anthropic", 200)
    assert sdk_usage(message) == billed(entry)
    prompt = engine_prompt_tokens(payload)
    usage = message.usage
    assert entry["prompt_tokens"] == prompt > 64
    assert usage.cache_read_input_tokens == entry["cached_tokens"] == cached_tokens_for(prompt)
    assert usage.cache_creation_input_tokens == cache_write_tokens_for(prompt) > 0
    assert usage.input_tokens == prompt - usage.cache_read_input_tokens - (
        usage.cache_creation_input_tokens or 0
    )
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"
    assert usage.output_tokens == len(message.content[0].text.split())


def test_without_cache_control_nothing_is_written(sim: Sim) -> None:
    rid = sim.request_id()
    system: Any = [{"type": "text", "text": LONG}]
    message = sim.anthropic().messages.create(
        model="sim-small",
        max_tokens=200,
        system=system,
        messages=HELLO,
        extra_headers={"x-request-id": rid},
    )
    assert message.usage.cache_creation_input_tokens == 0 == sim.entry(rid)["cache_write_tokens"]
    assert message.usage.cache_read_input_tokens == sim.entry(rid)["cached_tokens"] > 0


def test_stream_final_message_equals_create_and_the_journal(sim: Sim) -> None:
    client = sim.anthropic()
    payload: Any = {"model": "sim-small", "max_tokens": 200, "system": SYSTEM, "messages": HELLO}
    plain = client.messages.create(**payload)
    rid = sim.request_id()
    with client.messages.stream(**payload, extra_headers={"x-request-id": rid}) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    entry = sim.entry(rid)
    assert entry["stream"] and entry["completed"] and entry["endpoint"] == "messages"
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in plain.content]
    assert len(texts) == entry["chunks_sent"] == entry["chunks_planned"]
    assert sdk_usage(final) == billed(entry) == sdk_usage(plain)


def test_raw_stream_events_and_cumulative_usage(sim: Sim) -> None:
    body = {
        "model": "sim-reasoner",
        "max_tokens": 500,
        "system": SYSTEM,
        "messages": HELLO,
        "stream": True,
        "metadata": {"user_id": "u-1", "sim_output_tokens": 6, "sim_reasoning_tokens": 4},
    }
    rid = sim.request_id()
    headers = {"x-api-key": "x", "anthropic-version": "2023-06-01", "x-request-id": rid}
    response = sim.http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for frame in response.text.strip().split("\n\n"):
        name_line, data_line = frame.split("\n")
        events.append((name_line.removeprefix("event: "), json.loads(data_line[6:])))
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["thinking", "text"]
    assert names.count("content_block_stop") == 2
    entry = sim.entry(rid)
    start = events[0][1]["message"]["usage"]
    delta = events[-2][1]["usage"]
    assert (entry["completion_tokens"], entry["reasoning_tokens"]) == (10, 4)
    assert start["output_tokens"] == 1 and delta["output_tokens"] == 10
    assert {k: start[k] for k in ("cache_read_input_tokens", "cache_creation_input_tokens")} == {
        "cache_read_input_tokens": entry["cached_tokens"],
        "cache_creation_input_tokens": entry["cache_write_tokens"],
    }
    assert start["input_tokens"] == delta["input_tokens"]
    assert usage_from_anthropic(delta) == billed(entry)


def test_tool_use_round_trip(sim: Sim) -> None:
    client = sim.anthropic()
    question: Any = [{"role": "user", "content": "What is the weather in Paris this week?"}]
    first_id, second_id = sim.request_id(), sim.request_id()
    first = client.messages.create(
        model="sim-small",
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=question,
        extra_headers={"x-request-id": first_id},
    )
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and set(call.input) == {"city", "days"}
    with client.messages.stream(
        model="sim-small", max_tokens=300, tools=[WEATHER_TOOL], messages=question
    ) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in first.content]
    history: Any = [
        *question,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}],
        },
    ]
    second = client.messages.create(
        model="sim-small",
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=history,
        extra_headers={"x-request-id": second_id},
    )
    assert second.stop_reason == "end_turn" and [b.type for b in second.content] == ["text"]
    first_entry, second_entry = sim.entry(first_id), sim.entry(second_id)
    assert sdk_usage(first) == billed(first_entry) and sdk_usage(second) == billed(second_entry)
    arguments = json.dumps(call.input, separators=(",", ":"))
    assert first.usage.output_tokens == count_text_tokens(call.name) + count_text_tokens(arguments)
    payload = {"model": "sim-small", "max_tokens": 300, "tools": [WEATHER_TOOL]}
    history[1]["content"] = [block.model_dump() for block in first.content]
    assert second_entry["prompt_tokens"] == engine_prompt_tokens({**payload, "messages": history})


def test_directives_from_metadata_and_headers(sim: Sim) -> None:
    client = sim.anthropic()
    # Anthropic's metadata only has user_id; the simulator accepts its sim_* keys too
    metadata: Any = {"user_id": "u-1", "sim_output_tokens": 7}
    by_metadata = client.messages.create(
        model="sim-small", max_tokens=100, messages=HELLO, metadata=metadata
    )
    by_header = client.messages.create(
        model="sim-small",
        max_tokens=100,
        messages=HELLO,
        extra_headers={"x-sim-output-tokens": "3"},
    )
    capped = client.messages.create(
        model="sim-small", max_tokens=2, messages=HELLO, extra_headers={"x-sim-output-tokens": "9"}
    )
    assert by_metadata.usage.output_tokens == 7 and by_header.usage.output_tokens == 3
    assert capped.usage.output_tokens == 2 and capped.stop_reason == "max_tokens"


def test_errors_are_anthropic_errors(sim: Sim) -> None:
    client = sim.anthropic()
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="claude-nope", max_tokens=10, messages=HELLO)
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": missing.value.body["error"]["message"]},  # type: ignore[index]
    }
    response = sim.http.post("/v1/messages", json={"model": "sim-small", "messages": HELLO})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in response.json()["error"]["message"]
    assert sim.http.post("/v1/messages", content=b"{oops").json()["type"] == "error"
    cases: list[tuple[str, type[anthropic.APIStatusError], int, str]] = [
        ("error", anthropic.InternalServerError, 500, "api_error"),
        ("rate_limit", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("overloaded", anthropic.OverloadedError, 529, "overloaded_error"),
    ]
    for fault, error, status, kind in cases:
        rid = sim.request_id()
        with pytest.raises(error) as raised:
            client.messages.create(
                model="sim-small",
                max_tokens=10,
                messages=HELLO,
                extra_headers={"x-sim-fault": fault, "x-request-id": rid},
            )
        assert raised.value.status_code == status
        assert raised.value.body["error"]["type"] == kind  # type: ignore[index]
        entry = sim.entry(rid)
        assert entry["fault"] == fault and entry["status"] == status
        assert entry["completion_tokens"] == 0 and entry["prompt_tokens"] > 0


def test_error_event_mid_stream(sim: Sim) -> None:
    rid = sim.request_id()
    headers = {"x-sim-fault": "error_event", "x-sim-output-tokens": "8", "x-request-id": rid}
    with (
        pytest.raises(anthropic.APIStatusError, match="mid-stream"),
        sim.anthropic().messages.stream(
            model="sim-small", max_tokens=50, messages=HELLO, extra_headers=headers
        ) as stream,
    ):
        stream.get_final_message()
    entry = sim.entry(rid)
    assert entry["fault"] == "error_event" and not entry["completed"]
    assert (entry["chunks_planned"], entry["chunks_sent"]) == (8, 4)


def test_chat_completions_keep_the_openai_shape_in_the_anthropic_dialect(sim: Sim) -> None:
    rid = sim.request_id()
    completion = sim.openai().chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": LONG}],
        extra_headers={"x-request-id": rid},
    )
    entry = sim.entry(rid)
    assert (entry["endpoint"], entry["dialect"]) == ("chat/completions", "openai")
    assert completion.usage is not None
    assert usage_from_preset("openai", completion.usage.model_dump()) == billed(entry)
    assert entry["cache_write_tokens"] == 0


def test_messages_route_exists_only_in_the_anthropic_dialect(sim: Sim) -> None:
    body = {"model": "sim-small", "max_tokens": 10, "messages": HELLO}
    with sim.dialect("deepseek"):
        assert sim.http.post("/v1/messages", json=body).status_code == 404
    assert sim.http.post("/v1/messages", json=body).status_code == 200
    refused = sim.http.post("/_sim/config", json={"dialect": "klingon"})
    assert refused.status_code == 400 and "dialect" in refused.json()["error"]["message"]
    assert sim.http.post("/_sim/config", json={"dialect": 3}).status_code == 400


# --- OpenAI-compatible presets: each vendor's usage shape --------------------------------


def _chat_body(model: str) -> dict[str, Any]:
    # a Qwen-style explicit cache marker; the vendors that bill no cache writes ignore it
    system = {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": [system]},
            {"role": "user", "content": "What is the weather like today?"},
        ],
        "metadata": {"sim_output_tokens": 5, "sim_reasoning_tokens": 3},
    }


def _stream_usage(sim: Sim, body: dict[str, Any], headers: dict[str, str]) -> Any:
    stream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    response = sim.http.post("/v1/chat/completions", json=stream_body, headers=headers)
    assert response.status_code == 200
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    return chunks[-1]["usage"]


@pytest.mark.parametrize("model", ["sim-small", "sim-reasoner"])
@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_usage_shape_reads_back_as_the_journal(
    sim: Sim, preset: str, model: str
) -> None:
    body = _chat_body(model)
    with sim.dialect(preset):
        rid, stream_rid = sim.request_id(), sim.request_id()
        reply = sim.http.post("/v1/chat/completions", json=body, headers={"x-request-id": rid})
        assert reply.status_code == 200
        block = reply.json()["usage"]
        streamed = _stream_usage(sim, body, {"x-request-id": stream_rid})
    entry, stream_entry = sim.entry(rid), sim.entry(stream_rid)
    assert entry["dialect"] == stream_entry["dialect"] == preset
    assert usage_from_preset(preset, block) == billed(entry)
    assert usage_from_preset(preset, streamed) == billed(stream_entry) == billed(entry)
    assert streamed == block
    # the journal holds the engine's numbers, limited to what the vendor reports
    prompt = count_prompt_tokens(body["messages"])
    reasoner = model == "sim-reasoner"
    assert entry["prompt_tokens"] == prompt and prompt > 64
    assert entry["completion_tokens"] == 5 + (3 if reasoner else 0)
    reports_cache = preset not in ("ollama", "vllm", "sglang")
    assert entry["cached_tokens"] == (cached_tokens_for(prompt) if reports_cache else 0)
    reports_reasoning = preset not in ("ollama", "vllm")
    assert entry["reasoning_tokens"] == (3 if reasoner and reports_reasoning else 0)
    assert entry["cache_write_tokens"] == (
        cache_write_tokens_for(prompt) if preset == "qwen" else 0
    )


def test_vendor_specific_fields(sim: Sim) -> None:
    body = _chat_body("sim-reasoner")

    def usage(preset: str, **headers: str) -> tuple[Any, dict[str, Any]]:
        rid = sim.request_id()
        with sim.dialect(preset):
            reply = sim.http.post(
                "/v1/chat/completions", json=body, headers={"x-request-id": rid, **headers}
            ).json()
        return reply, sim.entry(rid)

    reply, entry = usage("deepseek")
    block = reply["usage"]
    assert block["prompt_cache_hit_tokens"] == entry["cached_tokens"] > 0
    assert (
        block["prompt_cache_hit_tokens"] + block["prompt_cache_miss_tokens"]
        == block["prompt_tokens"]
    )
    assert block["completion_tokens_details"] == {"reasoning_tokens": 3}
    assert reply["choices"][0]["message"]["reasoning_content"]
    reply, _ = usage("ollama")
    assert set(reply["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    for preset in ("vllm", "sglang"):
        plain, plain_entry = usage(preset)
        assert plain["usage"]["prompt_tokens_details"] is None and plain_entry["cached_tokens"] == 0
        reported, reported_entry = usage(preset, **{"x-sim-cache-report": "1"})
        details = reported["usage"]["prompt_tokens_details"]
        assert details == {"cached_tokens": reported_entry["cached_tokens"]}
        assert reported_entry["cached_tokens"] > 0
    reply, _ = usage("sglang")
    assert reply["usage"]["reasoning_tokens"] == 3
    reply, _ = usage("minimax")
    assert reply["base_resp"] == {"status_code": 0, "status_msg": ""}
    reply, entry = usage("qwen")
    details = reply["usage"]["prompt_tokens_details"]
    assert details["cache_creation_input_tokens"] == entry["cache_write_tokens"] > 0
    assert details["cache_creation"] == {"ephemeral_5m_input_tokens": entry["cache_write_tokens"]}


def test_openai_sdk_reads_a_preset_reply(sim: Sim) -> None:
    rid = sim.request_id()
    with sim.dialect("doubao"):
        completion = sim.openai().chat.completions.create(
            model="sim-reasoner",
            messages=[{"role": "user", "content": LONG}],
            extra_headers={"x-request-id": rid},
        )
    assert completion.usage is not None
    assert usage_from_preset("doubao", completion.usage.model_dump()) == billed(sim.entry(rid))
