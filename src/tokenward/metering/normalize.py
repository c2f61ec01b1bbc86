"""Provider usage blocks -> `Usage`.

Provider-reported usage is the truth: an explicit zero stays zero and is never
replaced by an estimate. A block that is missing or malformed yields None, and the
caller estimates (see `metering.estimate`) and marks the event estimated.
"""

from __future__ import annotations

from typing import Any

from tokenward.metering.usage import Usage


def _count(value: Any) -> int | None:
    # bool is an int subclass; a provider sending `true` for a count is malformed
    if type(value) is int and value >= 0:
        return value
    return None


def _detail(block: dict[str, Any], parent: str, field: str) -> int:
    details = block.get(parent)
    if isinstance(details, dict):
        return _count(details.get(field)) or 0
    return 0


def usage_from_openai(block: Any) -> Usage | None:
    """OpenAI `usage` (chat and embeddings) -> Usage, or None when absent or malformed."""
    if not isinstance(block, dict):
        return None
    prompt = _count(block.get("prompt_tokens"))
    if prompt is None:
        return None
    completion = _count(block.get("completion_tokens"))
    if completion is None:
        if "completion_tokens" in block:
            return None
        completion = 0  # embeddings report prompt_tokens and total_tokens only
    cached = min(_detail(block, "prompt_tokens_details", "cached_tokens"), prompt)
    # cache writes: DashScope's field, also where translated Anthropic usage keeps them
    written = min(_detail(block, "prompt_tokens_details", "cache_creation_input_tokens"), prompt)
    reasoning = min(_detail(block, "completion_tokens_details", "reasoning_tokens"), completion)
    return Usage(
        input_tokens=prompt,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=completion,
        reasoning_tokens=reasoning,
    )


__all__ = ["usage_from_openai"]
