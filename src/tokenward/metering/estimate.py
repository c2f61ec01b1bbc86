"""The documented estimator, used only when a provider reported no usage.

Rule: one token per CJK character (Han, kana, Hangul), plus one token per four other
non-space characters, rounded up; each message adds 4 tokens of framing and each image
part 85 tokens (OpenAI's low-detail tile cost). It is deliberately simple, offline and
deterministic (no tokenizer download). Output estimates are never below the number of
content chunks already relayed, so a stream cut short is never billed less than what
the client received, and never zero once content was relayed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from tokenward.metering.usage import Usage

MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_PART_TOKENS = 85

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SPACE = re.compile(r"\s+")


def estimate_text_tokens(text: str) -> int:
    """Estimated token count of one text."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    other = len(_SPACE.sub("", text)) - cjk
    return cjk + math.ceil(other / 4)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                total += estimate_text_tokens(part["text"])
            elif part.get("type") in ("image_url", "image", "input_image"):
                total += IMAGE_PART_TOKENS
        return total
    return 0


def estimate_prompt_tokens(messages: Iterable[Any]) -> int:
    """Estimated input tokens of an OpenAI `messages` list (tool calls included)."""
    total = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += MESSAGE_OVERHEAD_TOKENS + _content_tokens(message.get("content"))
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                function = call["function"]
                total += estimate_text_tokens(str(function.get("name", "")))
                total += estimate_text_tokens(str(function.get("arguments", "")))
    return total


def estimate_embedding_input_tokens(value: Any) -> int:
    """Estimated tokens of an embeddings `input` (text, texts, or token arrays)."""
    if isinstance(value, str):
        return estimate_text_tokens(value)
    if isinstance(value, list):
        if all(type(v) is int for v in value):
            return len(value)
        return sum(estimate_embedding_input_tokens(v) for v in value)
    return 0


def estimate_usage(
    *,
    prompt_tokens: int,
    output_text: str,
    reasoning_text: str = "",
    output_chunks: int = 0,
) -> Usage:
    """An estimated `Usage`: output is at least the number of content chunks relayed."""
    reasoning = estimate_text_tokens(reasoning_text)
    visible = estimate_text_tokens(output_text)
    output = max(visible + reasoning, output_chunks)
    return Usage(
        input_tokens=prompt_tokens,
        output_tokens=output,
        reasoning_tokens=min(reasoning, output),
        estimated=True,
    )


__all__ = [
    "IMAGE_PART_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "estimate_embedding_input_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "estimate_usage",
]
