"""Each vendor preset books its documented usage shape exactly (fixtures: ./fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tokenward.errors import ConfigError
from tokenward.metering.normalize import usage_from_openai
from tokenward.metering.usage import Usage
from tokenward.providers.presets import (
    PRESETS,
    get_preset,
    usage_from_fields,
    usage_from_preset,
)

FIXTURES = Path(__file__).parent / "fixtures"


def usage_block(fixture: str) -> Any:
    return orjson.loads((FIXTURES / fixture).read_bytes())["usage"]


@pytest.mark.parametrize(
    ("preset", "fixture", "expected"),
    [
        ("openai", "openai_chat.json", Usage(1117, 1024, 0, 46, 0)),
        ("deepseek", "deepseek_chat_cache_hit.json", Usage(1200, 1152, 0, 64, 0)),
        ("deepseek", "deepseek_reasoner.json", Usage(6, 0, 0, 92, 81)),
        ("zhipu", "zhipu_glm.json", Usage(2110, 2048, 0, 312, 0)),
        ("qwen", "qwen_implicit_cache.json", Usage(3019, 2048, 0, 104, 0)),
        ("qwen", "qwen_explicit_cache.json", Usage(1561, 0, 1541, 120, 0)),
        ("doubao", "doubao_thinking.json", Usage(1510, 1024, 0, 420, 350)),
        ("minimax", "minimax_chat.json", Usage(26, 0, 0, 223, 214)),
        ("vllm", "vllm_chat.json", Usage(25, 16, 0, 32, 0)),
        ("sglang", "sglang_chat.json", Usage(41, 0, 0, 58, 40)),
        ("ollama", "ollama_chat.json", Usage(26, 0, 0, 12, 0)),
        ("anthropic", "anthropic_message.json", Usage(21 + 188086, 0, 188086, 393, 0)),
    ],
)
def test_each_preset_books_its_documented_shape(preset: str, fixture: str, expected: Usage) -> None:
    assert usage_from_preset(preset, usage_block(fixture)) == expected


def test_deepseek_cache_hits_need_the_preset() -> None:
    """DeepSeek's own fields are invisible to the plain OpenAI reader."""
    block = usage_block("deepseek_chat_cache_hit.json")
    assert usage_from_openai(block) == Usage(input_tokens=1200, output_tokens=64)
    assert usage_from_preset("deepseek", block) == Usage(
        input_tokens=1200, cached_input_tokens=1152, output_tokens=64
    )


def test_deepseek_prompt_is_hit_plus_miss_when_prompt_tokens_is_absent() -> None:
    block = {"prompt_cache_hit_tokens": 30, "prompt_cache_miss_tokens": 12, "completion_tokens": 5}
    assert usage_from_preset("deepseek", block) == Usage(
        input_tokens=42, cached_input_tokens=30, output_tokens=5
    )
    assert usage_from_preset("deepseek", {"prompt_cache_hit_tokens": 30}) is None


def test_sglang_top_level_reasoning_tokens_are_read() -> None:
    block = {"prompt_tokens": 4, "completion_tokens": 9, "reasoning_tokens": 6}
    assert usage_from_preset("sglang", block) == Usage(
        input_tokens=4, output_tokens=9, reasoning_tokens=6
    )
    assert usage_from_preset("openai", block) == Usage(input_tokens=4, output_tokens=9)


@pytest.mark.parametrize(
    "fixture",
    [
        "openai_chat.json",
        "deepseek_reasoner.json",
        "zhipu_glm.json",
        "qwen_implicit_cache.json",
        "doubao_thinking.json",
        "minimax_chat.json",
        "vllm_chat.json",
        "ollama_chat.json",
    ],
)
def test_the_openai_preset_agrees_with_the_core_reader(fixture: str) -> None:
    block = usage_block(fixture)
    assert usage_from_preset("openai", block) == usage_from_openai(block)


@pytest.mark.parametrize(
    "block",
    [
        None,
        "usage",
        {},
        {"completion_tokens": 3},
        {"prompt_tokens": None, "completion_tokens": 3},
        {"prompt_tokens": -1, "completion_tokens": 2},
        {"prompt_tokens": True, "completion_tokens": 2},
        {"prompt_tokens": 3, "completion_tokens": "2"},
        {"prompt_tokens": 3, "completion_tokens": None},
    ],
)
@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"anthropic"}))
def test_missing_or_malformed_usage_yields_none(preset: str, block: Any) -> None:
    assert usage_from_preset(preset, block) is None


def test_explicit_zeros_and_embeddings_shapes_are_kept() -> None:
    zero = usage_from_preset("qwen", {"prompt_tokens": 0, "completion_tokens": 0})
    assert zero == Usage() and zero is not None and not zero.estimated
    assert usage_from_preset("vllm", {"prompt_tokens": 9, "total_tokens": 9}) == Usage(
        input_tokens=9
    )


def test_parts_never_exceed_their_parent_and_null_details_are_absent() -> None:
    block = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 8, "cache_creation_input_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 99},
    }
    assert usage_from_preset("qwen", block) == Usage(10, 8, 2, 5, 5)
    nulls = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": None}
    assert usage_from_preset("sglang", nulls) == Usage(input_tokens=10, output_tokens=5)
    bad_detail = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": "x"}
    assert usage_from_preset("deepseek", bad_detail) == Usage(input_tokens=10, output_tokens=5)


def test_an_unknown_preset_reads_the_openai_shape_but_config_rejects_it() -> None:
    block = usage_block("openai_chat.json")
    assert usage_from_preset("my-vllm-fork", block) == usage_from_openai(block)
    with pytest.raises(ConfigError, match="my-vllm-fork"):
        get_preset("my-vllm-fork")


def test_a_translated_anthropic_cache_write_survives_the_openai_reader() -> None:
    block = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_creation_input_tokens": 30},
    }
    assert usage_from_fields(PRESETS["openai"].usage, block) == Usage(100, 60, 30, 5, 0)


def test_auth_headers_follow_each_vendor() -> None:
    assert get_preset("deepseek").auth_headers("sk-1") == {"Authorization": "Bearer sk-1"}
    assert get_preset("anthropic").auth_headers("sk-ant") == {
        "x-api-key": "sk-ant",
        "anthropic-version": "2023-06-01",
    }


def test_every_preset_is_complete_and_cites_its_sources() -> None:
    expected = {
        "openai",
        "anthropic",
        "deepseek",
        "zhipu",
        "qwen",
        "doubao",
        "minimax",
        "vllm",
        "ollama",
        "sglang",
    }
    assert set(PRESETS) == expected
    for preset in PRESETS.values():
        assert preset.base_url.startswith(("https://", "http://localhost"))
        assert preset.docs and all(url.startswith("https://") for url in preset.docs)
        assert preset.notes
