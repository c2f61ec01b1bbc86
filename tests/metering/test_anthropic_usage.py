"""Anthropic usage follows the one convention: cache reads and writes are parts of the input."""

from __future__ import annotations

from typing import Any

import pytest

from tokenward.metering.anthropic import AnthropicStreamUsage, usage_from_anthropic
from tokenward.metering.usage import Usage


def test_cache_reads_and_writes_are_added_to_the_input() -> None:
    usage = usage_from_anthropic(
        {
            "input_tokens": 21,
            "cache_creation_input_tokens": 188,
            "cache_read_input_tokens": 1024,
            "output_tokens": 393,
        }
    )
    assert usage == Usage(
        input_tokens=21 + 188 + 1024,
        cached_input_tokens=1024,
        cache_write_tokens=188,
        output_tokens=393,
    )


def test_missing_or_null_cache_fields_mean_zero() -> None:
    assert usage_from_anthropic(
        {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": None}
    ) == Usage(input_tokens=5, output_tokens=2)


def test_explicit_zeros_are_kept_not_estimated() -> None:
    usage = usage_from_anthropic({"input_tokens": 0, "output_tokens": 0})
    assert usage == Usage() and usage is not None and not usage.estimated


def test_thinking_tokens_are_booked_as_reasoning_within_the_output() -> None:
    usage = usage_from_anthropic(
        {"input_tokens": 5, "output_tokens": 40, "output_tokens_details": {"thinking_tokens": 30}}
    )
    assert usage is not None and usage.reasoning_tokens == 30
    capped = usage_from_anthropic(
        {"input_tokens": 5, "output_tokens": 4, "output_tokens_details": {"thinking_tokens": 30}}
    )
    assert capped is not None and capped.reasoning_tokens == 4


@pytest.mark.parametrize(
    "block",
    [
        None,
        [],
        {},
        {"input_tokens": 3},
        {"output_tokens": 3},
        {"input_tokens": -1, "output_tokens": 2},
        {"input_tokens": True, "output_tokens": 2},
        {"input_tokens": 1, "output_tokens": "2"},
        {"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": 1.5},
        {"input_tokens": 1, "output_tokens": 2, "output_tokens_details": {"thinking_tokens": -1}},
    ],
)
def test_missing_or_malformed_usage_yields_none(block: Any) -> None:
    assert usage_from_anthropic(block) is None


def test_cumulative_message_deltas_book_the_last_value_not_the_sum() -> None:
    """R-SSE-4: with server tools several message_delta events repeat running totals."""
    stream = AnthropicStreamUsage()
    stream.on_message_start(
        {
            "input_tokens": 2679,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 2048,
            "output_tokens": 3,
        }
    )
    assert [stream.complete] == [False]  # a comparison mypy does not narrow on
    stream.on_message_delta({"input_tokens": 2679, "output_tokens": 120})
    stream.on_message_delta(
        {"input_tokens": 10412, "cache_read_input_tokens": 2048, "output_tokens": 310}
    )
    assert stream.complete
    assert stream.usage() == Usage(
        input_tokens=10412 + 2048, cached_input_tokens=2048, output_tokens=310
    )


def test_a_field_missing_from_a_delta_keeps_its_earlier_value() -> None:
    stream = AnthropicStreamUsage()
    stream.on_message_start(
        {"input_tokens": 10, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 3}
    )
    stream.on_message_delta({"output_tokens": 4, "cache_read_input_tokens": None})
    assert stream.usage() == Usage(
        input_tokens=20, cached_input_tokens=3, cache_write_tokens=7, output_tokens=4
    )


def test_a_stream_cut_before_any_delta_is_not_complete() -> None:
    stream = AnthropicStreamUsage()
    assert stream.usage() is None
    stream.on_message_start({"input_tokens": 10, "output_tokens": 1})
    assert not stream.complete
    assert stream.usage() == Usage(input_tokens=10, output_tokens=1)


def test_a_delta_without_input_keeps_the_message_start_input() -> None:
    stream = AnthropicStreamUsage()
    stream.on_message_start(None)
    stream.on_message_delta({"output_tokens": 4})
    assert stream.complete and stream.usage() is None  # input never reported


@pytest.mark.parametrize("bad", ["usage", {"output_tokens": -3}, {"output_tokens": 2.0}])
def test_a_malformed_update_poisons_the_stream_so_the_caller_estimates(bad: Any) -> None:
    stream = AnthropicStreamUsage()
    stream.on_message_start({"input_tokens": 10, "output_tokens": 1})
    stream.on_message_delta(bad)
    stream.on_message_delta({"output_tokens": 5})
    assert stream.usage() is None and not stream.complete
