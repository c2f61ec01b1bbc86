"""Field-level mappings between the OpenAI and Anthropic dialects, shared by every direction.

Stop reasons, tool choice, tool-call arguments, image data URLs and usage blocks. The
tables are written out in full here so the translation rules can be read (and
reviewed) in one place.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenward.errors import InvalidRequest
from tokenward.metering.usage import Usage
from tokenward.providers.dialects.anthropic import IMAGE_MEDIA_TYPES

#: OpenAI `finish_reason` -> Anthropic `stop_reason` (anything else -> "end_turn")
OPENAI_TO_ANTHROPIC_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
#: Anthropic `stop_reason` -> OpenAI `finish_reason` (anything else -> "stop")
ANTHROPIC_TO_OPENAI_STOP: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # a server-tool loop paused; OpenAI has no "continue me" reason
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: Anthropic `tool_choice.type` -> OpenAI `tool_choice` ("tool" becomes a function object)
ANTHROPIC_TO_OPENAI_TOOL_CHOICE: dict[str, str] = {
    "auto": "auto",
    "any": "required",
    "none": "none",
}
OPENAI_TO_ANTHROPIC_TOOL_CHOICE: dict[str, str] = {
    value: key for key, value in ANTHROPIC_TO_OPENAI_TOOL_CHOICE.items()
}


def as_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (upstream bodies are untrusted)."""
    return value if isinstance(value, dict) else {}


def anthropic_stop_reason(finish_reason: Any, *, has_tool_calls: bool) -> str:
    """OpenAI finish_reason -> Anthropic stop_reason.

    Some OpenAI-compatible vendors say "stop" while returning tool calls; Anthropic
    clients only run tools on "tool_use", so tool calls win.
    """
    if has_tool_calls and finish_reason in (None, "stop"):
        return "tool_use"
    return OPENAI_TO_ANTHROPIC_STOP.get(finish_reason, "end_turn")


def openai_finish_reason(stop_reason: Any) -> str:
    """Anthropic stop_reason -> OpenAI finish_reason."""
    return ANTHROPIC_TO_OPENAI_STOP.get(stop_reason, "stop")


def dump_json(value: Any) -> str:
    """Compact JSON text, as OpenAI sends tool-call arguments."""
    return orjson.dumps(value).decode()


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """OpenAI tool-call `arguments` (JSON text) -> Anthropic `input` (an object).

    Empty text (tools without parameters) and text that is not a JSON object both
    give `{}`: Anthropic requires an object, and a reply or a conversation history
    must not be refused because a model once emitted broken arguments.
    """
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def image_source(url: Any, where: str) -> dict[str, Any]:
    """An OpenAI `image_url.url` -> an Anthropic image `source` (data URLs become base64)."""
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"'{where}.image_url.url' must be a string.", param=where)
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, _, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64" or media_type not in IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"'{where}': only base64 data URLs of {', '.join(sorted(IMAGE_MEDIA_TYPES))} "
            "can be sent to this upstream.",
            param=where,
        )
    return {"type": "base64", "media_type": media_type, "data": data}


def image_url(source: dict[str, Any]) -> str:
    """An Anthropic image `source` -> an OpenAI image URL (base64 becomes a data URL)."""
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    return str(source.get("url"))


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    """`Usage` -> Anthropic usage, whose `input_tokens` excludes cache reads and writes."""
    fresh = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
    block: dict[str, Any] = {
        "input_tokens": fresh,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        block["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return block


def openai_usage(usage: Usage) -> dict[str, Any]:
    """`Usage` -> OpenAI usage.

    OpenAI has no cache-write field; a non-zero one is kept as
    `prompt_tokens_details.cache_creation_input_tokens` (DashScope's spelling, which
    `providers.presets` reads back) so metering the translated body loses nothing.
    """
    details: dict[str, int] = {"cached_tokens": usage.cached_input_tokens}
    if usage.cache_write_tokens:
        details["cache_creation_input_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


__all__ = [
    "ANTHROPIC_TO_OPENAI_STOP",
    "ANTHROPIC_TO_OPENAI_TOOL_CHOICE",
    "OPENAI_TO_ANTHROPIC_STOP",
    "OPENAI_TO_ANTHROPIC_TOOL_CHOICE",
    "anthropic_stop_reason",
    "anthropic_usage",
    "as_object",
    "dump_json",
    "image_source",
    "image_url",
    "openai_finish_reason",
    "openai_usage",
    "parse_arguments",
]
