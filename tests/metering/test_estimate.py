"""The documented estimator: deterministic, CJK-aware, never below what was relayed."""

from __future__ import annotations

from tokenward.metering import (
    estimate_embedding_input_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
    estimate_usage,
)


def test_latin_text_counts_four_characters_per_token() -> None:
    assert estimate_text_tokens("abcd efgh") == 2
    assert estimate_text_tokens("abcde") == 2
    assert estimate_text_tokens("") == 0


def test_each_cjk_character_is_one_token() -> None:
    assert estimate_text_tokens("身份证号码") == 5
    assert estimate_text_tokens("你好 world") == 2 + 2


def test_prompt_estimate_adds_message_framing_and_images() -> None:
    messages = [
        {"role": "system", "content": "abcd"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcdabcd"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
            ],
        },
    ]
    assert estimate_prompt_tokens(messages) == (4 + 1) + (4 + 2 + 85)


def test_embedding_inputs_of_every_shape() -> None:
    assert estimate_embedding_input_tokens("abcdabcd") == 2
    assert estimate_embedding_input_tokens(["abcd", "abcd"]) == 2
    assert estimate_embedding_input_tokens([1, 2, 3]) == 3
    assert estimate_embedding_input_tokens([[1, 2], [3]]) == 3


def test_output_estimate_is_never_below_relayed_chunks_and_is_marked() -> None:
    usage = estimate_usage(prompt_tokens=10, output_text="a b c", output_chunks=7)
    assert usage.output_tokens == 7
    assert usage.estimated
    assert estimate_usage(prompt_tokens=0, output_text="", output_chunks=0).output_tokens == 0
