"""Provider usage is the truth: parsed exactly, explicit zeros kept, malformed rejected."""

from __future__ import annotations

from typing import Any

import pytest

from tokenward.metering import Usage, usage_from_openai


def test_chat_usage_with_details_is_parsed_exactly() -> None:
    block = {
        "prompt_tokens": 120,
        "completion_tokens": 40,
        "total_tokens": 160,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 25},
    }
    assert usage_from_openai(block) == Usage(
        input_tokens=120, cached_input_tokens=64, output_tokens=40, reasoning_tokens=25
    )


def test_embeddings_usage_has_no_completion() -> None:
    assert usage_from_openai({"prompt_tokens": 9, "total_tokens": 9}) == Usage(input_tokens=9)


def test_explicit_zero_is_kept_not_estimated() -> None:
    usage = usage_from_openai({"prompt_tokens": 0, "completion_tokens": 0})
    assert usage == Usage() and usage is not None and not usage.estimated


@pytest.mark.parametrize(
    "block",
    [
        None,
        "usage",
        {},
        {"prompt_tokens": -1, "completion_tokens": 2},
        {"prompt_tokens": 1.5, "completion_tokens": 2},
        {"prompt_tokens": True, "completion_tokens": 2},
        {"prompt_tokens": 3, "completion_tokens": "2"},
    ],
)
def test_missing_or_malformed_usage_yields_none(block: Any) -> None:
    assert usage_from_openai(block) is None


def test_details_never_exceed_their_parent_category() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 99},
            "completion_tokens_details": {"reasoning_tokens": 99},
        }
    )
    assert usage is not None
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (10, 5)
