"""`tokenward simulate` as a real process, driven with the official `openai` SDK."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.helpers.processes import RunningProcess, free_port, start_process
from tokenward.providers.simulator.engine import count_text_tokens

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
HELLO: Any = [{"role": "user", "content": "Hello, simulator!"}]


class Sim:
    def __init__(self, process: RunningProcess, port: int, journal_path: Path) -> None:
        self.process, self.journal_path = process, journal_path
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10, trust_env=False)

    def client(self, **options: Any) -> openai.OpenAI:
        options = {"max_retries": 0, **options}
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", **options)

    def journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.http.get("/_sim/journal").json()
        return entries

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

    def configure(self, **patch: Any) -> httpx.Response:
        return self.http.post("/_sim/config", json=patch)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    work = tmp_path_factory.mktemp("simulate")
    port = free_port()
    journal = work / "journal.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    process = start_process(
        [TOKENWARD, "simulate", "--port", str(port), "--journal", str(journal), "--seed", "3"],
        env={**env, "TOKENWARD_HOME": str(work)},
        health_url=f"http://127.0.0.1:{port}/_sim/health",
    )
    try:
        yield Sim(process, port, journal)
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def default_settings(sim: Sim) -> Iterator[None]:
    yield
    sim.configure(error_rate=0, rate_limit_rate=0, timeout_rate=0, broken_stream_rate=0)


def test_models_are_listed(sim: Sim) -> None:
    ids = [m.id for m in sim.client().models.list()]
    assert ids == ["sim-small", "sim-large", "sim-reasoner", "sim-embed"]


def test_chat_is_deterministic_and_its_usage_follows_the_rules(sim: Sim) -> None:
    """Same request (same x-request-id) gives the same body; usage follows engine rules."""
    client = sim.client(default_headers={"x-request-id": "det-1"})
    first = client.chat.completions.create(model="sim-large", messages=HELLO)
    again = client.chat.completions.create(model="sim-large", messages=HELLO)
    assert first.model_dump(exclude={"created"}) == again.model_dump(exclude={"created"})
    assert first.id.startswith("chatcmpl-") and first.model == "sim-large"
    assert first.object == "chat.completion"
    content = first.choices[0].message.content or ""
    assert first.usage is not None
    assert first.usage.prompt_tokens == 3 + 4 + count_text_tokens("Hello, simulator!")
    assert first.usage.completion_tokens == count_text_tokens(content)
    assert first.choices[0].finish_reason == "stop"
    entries = sim.http.get("/_sim/journal", params={"request_id": ["det-1", "none"]}).json()
    assert [e["attempt"] for e in entries] == [1, 2]
    assert entries[0]["completion_tokens"] == first.usage.completion_tokens


def test_stream_with_usage_matches_the_non_stream_reply_and_the_journal(sim: Sim) -> None:
    client = sim.client()
    plain = client.chat.completions.create(model="sim-small", messages=HELLO)
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    assert [c.usage is None for c in chunks] == [True] * (len(chunks) - 1) + [False]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert text == plain.choices[0].message.content
    entry = sim.entry(raw.headers["x-request-id"])
    assert entry["completed"] and entry["include_usage"] and entry["stream"]
    assert entry["chunks_sent"] == entry["chunks_planned"] == plain.usage.completion_tokens  # type: ignore[union-attr]


def test_stream_without_include_usage_has_no_usage_at_all(sim: Sim) -> None:
    response = sim.http.post(
        "/v1/chat/completions",
        json={"model": "sim-small", "messages": HELLO, "stream": True},
    )
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert response.headers["content-type"].startswith("text/event-stream")


def test_chunk_count_and_n_choices_over_http(sim: Sim) -> None:
    stream = sim.client().chat.completions.create(
        model="sim-small",
        messages=HELLO,
        n=2,
        stream=True,
        stream_options={"include_usage": True},
        metadata={"sim_chunk_count": "3", "sim_output_tokens": "12"},
    )
    per_choice: dict[int, list[str]] = {0: [], 1: []}
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            if choice.delta.content:
                per_choice[choice.index].append(choice.delta.content)
    assert [len(v) for v in per_choice.values()] == [3, 3]
    assert usage is not None and usage.completion_tokens == 24


def test_tool_calls_plain_and_streamed(sim: Sim) -> None:
    client = sim.client()
    reply = client.chat.completions.create(model="sim-small", messages=HELLO, tools=[WEATHER])
    [call] = reply.choices[0].message.tool_calls or []
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.id.startswith("call_") and call.type == "function"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str) and isinstance(arguments["days"], int)
    streamed, name = "", ""
    for chunk in client.chat.completions.create(
        model="sim-small", messages=HELLO, tools=[WEATHER], stream=True
    ):
        for delta_call in chunk.choices[0].delta.tool_calls or ():
            assert delta_call.function is not None
            name += delta_call.function.name or ""
            streamed += delta_call.function.arguments or ""
    assert name == "get_weather"
    assert streamed == call.function.arguments


def test_multi_part_content_with_an_image_is_accepted(sim: Sim) -> None:
    reply = sim.client().chat.completions.create(
        model="sim-small",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        ],
    )
    assert reply.usage is not None and reply.usage.prompt_tokens == 3 + 4 + 6 + 85


def test_embeddings_default_base64_and_float_agree(sim: Sim) -> None:
    client = sim.client()
    as_base64 = client.embeddings.create(model="sim-embed", input=["alpha beta", "gamma"])
    as_float = client.embeddings.create(
        model="sim-embed", input=["alpha beta", "gamma"], encoding_format="float"
    )
    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_float.data]
    assert len(as_float.data[0].embedding) == 256
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens == 3
    tokens = client.embeddings.create(model="sim-small", input=[[1, 2, 3], [4]], dimensions=16)
    assert tokens.usage.prompt_tokens == 4 and len(tokens.data[1].embedding) == 16


def test_unknown_model_and_bad_bodies_answer_openai_errors(sim: Sim) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sim.client().chat.completions.create(model="gpt-unknown", messages=HELLO)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    bad = sim.http.post("/v1/chat/completions", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    wrong = sim.http.post("/v1/chat/completions", json={"model": "sim-small", "messages": 5})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "messages"
    assert sim.http.get("/v1/nothing").status_code == 404
    assert sim.journal()[-1]["model"] != "gpt-unknown"  # refused requests are not journaled


def test_error_and_rate_limit_faults(sim: Sim) -> None:
    client = sim.client()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="sim-small", messages=HELLO, metadata={"sim_fault": "error"}
        )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="sim-small", messages=HELLO, extra_headers={"x-sim-fault": "rate_limit"}
        )
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"


def test_broken_streams_and_error_events_end_without_usage(sim: Sim) -> None:
    client = sim.client()
    meta = {"sim_fault": "broken", "sim_output_tokens": "10"}
    stream = client.chat.completions.create(
        model="sim-small",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
        metadata=meta,
    )
    got: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        got.extend(stream)
    assert 0 < len(got) < 10 and all(c.usage is None for c in got)
    with pytest.raises(openai.APIError, match="mid-stream"):
        list(
            client.chat.completions.create(
                model="sim-small",
                messages=HELLO,
                stream=True,
                metadata={"sim_fault": "error_event"},
            )
        )
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(
            model="sim-small", messages=HELLO, metadata={"sim_fault": "broken"}
        )
    faults = [e["fault"] for e in sim.journal()[-3:]]
    assert faults == ["broken", "error_event", "broken"]


def test_timeout_fault_hangs_then_closes(sim: Sim) -> None:
    assert sim.configure(hang_s=0.2).status_code == 200
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        sim.client().chat.completions.create(
            model="sim-small", messages=HELLO, metadata={"sim_fault": "timeout"}
        )
    assert time.monotonic() - started >= 0.2
    with pytest.raises(openai.APITimeoutError):
        sim.client(timeout=0.1).chat.completions.create(
            model="sim-small", messages=HELLO, metadata={"sim_fault": "timeout", "sim_tag": "hang"}
        )
    sim.configure(hang_s=30.0)


def test_fault_rates_set_at_run_time_fail_some_and_retries_pass(sim: Sim) -> None:
    assert sim.configure(error_rate=1.0).status_code == 200
    with pytest.raises(openai.InternalServerError):
        sim.client().chat.completions.create(model="sim-small", messages=HELLO)
    sim.configure(error_rate=0.5)
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "retry me"}]}
    statuses = [sim.http.post("/v1/chat/completions", json=body).status_code for _ in range(10)]
    assert set(statuses) == {200, 500}  # the same request fails on some tries, not all
    journaled = [e["status"] for e in sim.journal()[-10:]]
    assert journaled == statuses


def test_config_patches_are_validated(sim: Sim) -> None:
    assert sim.configure(error_rate=2).status_code == 400
    assert sim.configure(journal_path="/tmp/x").status_code == 400
    assert sim.configure(chunk_count=1.5).status_code == 400
    assert sim.http.post("/_sim/config", content=b"[]").status_code == 400
    assert sim.configure(latency_ms=0).json()["latency_ms"] == 0.0


def test_client_disconnect_is_detected_and_journaled(sim: Sim) -> None:
    body = {
        "model": "sim-small",
        "messages": HELLO,
        "stream": True,
        "metadata": {"sim_output_tokens": "200", "sim_chunk_delay_ms": "10"},
    }
    with sim.http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"x-request-id": "drop-1"}
    ) as response:
        seen = 0
        for line in response.iter_lines():
            seen += '"content":"' in line
            if seen > 5:
                left_at = time.time()
                break
    time.sleep(0.2)
    entry = sim.entry("drop-1")
    assert entry["client_disconnected"] is True and entry["completed"] is False
    assert 5 <= entry["chunks_sent"] < entry["chunks_planned"] == 200
    assert entry["completion_tokens"] == 200
    assert entry["completion_tokens_sent"] == entry["chunks_sent"]
    assert 0 <= entry["disconnected_at"] - left_at < 0.5  # noticed within a chunk delay or so


def test_journal_is_fsynced_before_the_usage_chunk_leaves(sim: Sim) -> None:
    body = {
        "model": "sim-small",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with sim.http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"x-request-id": "order-1"}
    ) as response:
        for line in response.iter_lines():
            if '"choices":[]' in line:
                on_disk = sim.journal_path.read_text()
                break
    assert '"request_id":"order-1"' in on_disk
    lines = [json.loads(x) for x in sim.journal_path.read_text().splitlines()]
    assert lines[-len(sim.journal()) :] == sim.journal()


def test_stats_count_concurrent_streams_and_reset_clears(sim: Sim) -> None:
    assert sim.http.post("/_sim/reset").json() == {"ok": True}
    assert sim.journal() == [] and sim.journal_path.read_text() == ""

    def one_stream() -> None:
        list(
            sim.client().chat.completions.create(
                model="sim-small",
                messages=HELLO,
                stream=True,
                metadata={
                    "sim_chunk_delay_ms": "20",
                    "sim_output_tokens": "10",
                    "sim_tag": "team-a",
                },
            )
        )

    threads = [threading.Thread(target=one_stream) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = sim.http.get("/_sim/stats").json()
    assert stats["requests"] == 4 and stats["in_flight"] == 0 and stats["streams_open"] == 0
    assert 2 <= stats["peak_streams_open"] <= 4 and stats["peak_in_flight"] >= 2
    assert stats["tags"]["team-a"]["requests"] == 4
    assert len(sim.journal()) == 4
