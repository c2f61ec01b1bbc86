"""The simulator's dialects without sockets: usage shapes, billing rules, settings, ASGI routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tokenward.clock import FakeClock
from tokenward.config import load_settings
from tokenward.config.schema import SimulatorSettings
from tokenward.errors import ConfigError
from tokenward.metering.usage import Usage
from tokenward.providers.base import UpstreamCall
from tokenward.providers.presets import PRESETS, usage_from_preset
from tokenward.providers.simulator import SimulatorProvider, create_simulator_app
from tokenward.providers.simulator.dialects import (
    SHAPES,
    cache_write_tokens_for,
    chat_dialect,
    has_cache_control,
    usage_block,
)
from tokenward.providers.simulator.engine import ChoicePlan, ReplyPlan

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def paths(block: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a usage block (a null object is a leaf)."""
    found: set[str] = set()
    for key, value in block.items():
        path = f"{prefix}{key}"
        found |= paths(value, f"{path}.") if isinstance(value, dict) else {path}
    return found


def plan(prompt: int, words: int, reasoning: int, model: str = "sim-small") -> ReplyPlan:
    choice = ChoicePlan(0, ("think",) * reasoning, ("word",) * words, (), "stop")
    return ReplyPlan("chatcmpl-x", model, prompt, (choice,))


def test_every_preset_has_a_shape() -> None:
    assert set(SHAPES) == set(PRESETS)
    assert chat_dialect("anthropic") == "openai" and chat_dialect("qwen") == "qwen"


# dialect, fixture, model, cache marked, cache_report; the shape must have the
# fixture's fields, plus only the listed extras
SHAPE_CASES: list[tuple[str, str, str, bool, bool, set[str]]] = [
    ("openai", "openai_chat.json", "sim-small", False, False, set()),
    ("deepseek", "deepseek_reasoner.json", "sim-reasoner", False, False, set()),
    (
        "deepseek",
        "deepseek_chat_cache_hit.json",
        "sim-small",
        False,
        False,
        {"prompt_tokens_details.cached_tokens"},  # newer replies carry both
    ),
    ("zhipu", "zhipu_glm.json", "sim-small", False, False, set()),
    ("qwen", "qwen_implicit_cache.json", "sim-small", False, False, set()),
    ("qwen", "qwen_explicit_cache.json", "sim-small", True, False, set()),
    ("doubao", "doubao_thinking.json", "sim-reasoner", False, False, set()),
    (
        "minimax",
        "minimax_chat.json",
        "sim-reasoner",
        False,
        False,
        {"prompt_tokens_details.cached_tokens"},
    ),
    ("vllm", "vllm_chat.json", "sim-small", False, True, set()),
    ("sglang", "sglang_chat.json", "sim-reasoner", False, False, set()),
    ("ollama", "ollama_chat.json", "sim-small", False, False, set()),
]


@pytest.mark.parametrize(("dialect", "fixture", "model", "marked", "report", "extras"), SHAPE_CASES)
def test_shapes_match_the_recorded_vendor_bodies(
    dialect: str, fixture: str, model: str, marked: bool, report: bool, extras: set[str]
) -> None:
    recorded = json.loads((FIXTURES / fixture).read_text())["usage"]
    shape = SHAPES[dialect]
    billed = shape.billed(
        plan(200, 7, 3 if "reasoner" in model else 0, model), marked=marked, cache_report=report
    )
    block = usage_block(dialect, billed, model=model, cache_report=report)
    assert paths(block) == paths(recorded) | extras
    assert usage_from_preset(dialect, block) == billed


@pytest.mark.parametrize("dialect", sorted(set(SHAPES) - {"anthropic"}))
@pytest.mark.parametrize("model", ["sim-small", "sim-reasoner"])
@pytest.mark.parametrize(("marked", "report"), [(False, False), (True, True)])
def test_every_shape_reads_back_as_what_it_bills(
    dialect: str, model: str, marked: bool, report: bool
) -> None:
    for prompt in (0, 63, 64, 1000):
        reasoning = 5 if "reasoner" in model else 0
        billed = SHAPES[dialect].billed(
            plan(prompt, 9, reasoning, model), marked=marked, cache_report=report
        )
        block = usage_block(dialect, billed, model=model, cache_report=report)
        assert usage_from_preset(dialect, block) == billed


def test_billing_follows_what_each_vendor_reports() -> None:
    reply = plan(1024, 9, 5, "sim-reasoner")  # 16 whole cache blocks
    cases = {
        # dialect, marked, cache_report -> (input, cached, cache write, output, reasoning)
        ("openai", True, False): (1024, 512, 0, 14, 5),
        ("anthropic", False, False): (1024, 512, 0, 14, 5),
        ("anthropic", True, False): (1024, 512, 256, 14, 5),
        ("qwen", True, False): (1024, 512, 256, 14, 5),
        ("ollama", True, True): (1024, 0, 0, 14, 0),
        ("vllm", False, False): (1024, 0, 0, 14, 0),
        ("vllm", False, True): (1024, 512, 0, 14, 0),
        ("sglang", False, False): (1024, 0, 0, 14, 5),
    }
    for (dialect, marked, report), counts in cases.items():
        assert SHAPES[dialect].billed(reply, marked=marked, cache_report=report) == Usage(*counts)


def test_cache_write_rule() -> None:
    assert [cache_write_tokens_for(p) for p in (0, 63, 64, 127, 128, 1000)] == [
        0,
        0,
        16,
        16,
        32,
        240,
    ]
    assert has_cache_control({"messages": [{"content": [{"cache_control": {}}]}]})
    assert not has_cache_control({"messages": [{"content": "cache_control"}]})


def test_dialect_setting_is_validated() -> None:
    assert SimulatorSettings().dialect == "openai"
    with pytest.raises(ConfigError, match=r"simulator\.dialect"):
        SimulatorSettings(dialect="klingon")
    settings = load_settings(env={}, overrides={"simulator.dialect": "deepseek"})
    assert settings.simulator.dialect == "deepseek"
    env = {"TOKENWARD_SIMULATOR__DIALECT": "anthropic"}
    assert load_settings(env=env).simulator.dialect == "anthropic"


def test_in_process_provider_reads_its_own_dialect(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    settings = SimulatorSettings(journal_path=str(journal), dialect="sglang")
    provider = SimulatorProvider("sim", settings, FakeClock())
    body = {"model": "sim-reasoner", "messages": [{"role": "user", "content": "word " * 70}]}

    async def scenario() -> Any:
        reply = await provider.complete(UpstreamCall("chat/completions", body, "r-1", 30))
        await provider.aclose()
        return reply.payload

    payload = run(scenario)
    entry = json.loads(journal.read_text())
    assert "reasoning_tokens" in payload["usage"] and entry["dialect"] == "sglang"
    assert provider.parse_usage(payload["usage"]) == Usage(
        entry["prompt_tokens"], 0, 0, entry["completion_tokens"], entry["reasoning_tokens"]
    )
    assert entry["reasoning_tokens"] > 0


async def _post(app: Any, path: str, body: Any, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        return await client.post(path, json=body, headers=headers)


def test_anthropic_refusals_and_tool_choice_over_asgi() -> None:
    app = create_simulator_app(SimulatorSettings(dialect="anthropic"), clock=FakeClock())
    tool = {"name": "noop", "input_schema": {"type": "object", "properties": {}}}
    question = [{"role": "user", "content": "hi"}]

    async def scenario() -> list[httpx.Response]:
        document = [{"type": "document", "source": {"type": "text", "data": "x"}}]
        return [
            await _post(
                app,
                "/v1/messages",
                {
                    "model": "sim-small",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": document}],
                },
            ),
            await _post(
                app,
                "/v1/messages",
                {
                    "model": "sim-small",
                    "max_tokens": 5,
                    "messages": question,
                    "metadata": {"sim_bogus": 1},
                },
            ),
            await _post(
                app,
                "/v1/messages",
                {
                    "model": "sim-small",
                    "max_tokens": 50,
                    "messages": question,
                    "tools": [tool],
                    "tool_choice": {"type": "any"},
                },
            ),
            await _post(
                app,
                "/v1/messages",
                {
                    "model": "sim-small",
                    "max_tokens": 50,
                    "messages": question,
                    "tools": [tool],
                    "tool_choice": {"type": "none"},
                },
            ),
            await _post(
                app,
                "/v1/messages",
                {"model": "sim-small", "max_tokens": 50, "messages": question},
                **{"x-sim-fault": "rate_limit"},
            ),
        ]

    document, bogus, forced, refused, limited = run(scenario)
    for response in (document, bogus):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert forced.json()["stop_reason"] == "tool_use"
    assert forced.json()["content"][0]["name"] == "noop"
    assert refused.json()["stop_reason"] == "end_turn"
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["type"] == "rate_limit_error"


def test_openai_dialect_overloaded_fault_is_a_503() -> None:
    app = create_simulator_app(SimulatorSettings(), clock=FakeClock())
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}
    response = run(
        lambda: _post(app, "/v1/chat/completions", body, **{"x-sim-fault": "overloaded"})
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "overloaded"
