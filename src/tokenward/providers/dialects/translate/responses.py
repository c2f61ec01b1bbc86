"""Non-stream reply bodies across dialects: OpenAI chat completion <-> Anthropic message.

Usage goes through `metering.Usage`, so both directions apply the one convention
(cached reads and writes are parts of the input) and the gateway can hand in the
`Usage` it has already metered with a vendor preset (DeepSeek's cache fields, say)
instead of the standard fields this module would read by itself.

A reply whose shape we cannot read raises `UpstreamProtocolError`: the upstream
broke the protocol, and the client must not receive half a translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenward.errors import UpstreamProtocolError
from tokenward.metering.anthropic import usage_from_anthropic
from tokenward.metering.normalize import usage_from_openai
from tokenward.metering.usage import ZERO_USAGE, Usage
from tokenward.providers.dialects.translate.mapping import (
    anthropic_stop_reason,
    anthropic_usage,
    dump_json,
    openai_finish_reason,
    openai_usage,
    parse_arguments,
)


def anthropic_message_id(openai_id: Any) -> str:
    """A `msg_`-prefixed id derived from the upstream's completion id."""
    text = openai_id if isinstance(openai_id, str) and openai_id else "unknown"
    if text.startswith("msg_"):
        return text
    return "msg_" + text.removeprefix("chatcmpl-")


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some vendors answer with text parts
        return "".join(
            part.get("text") or ""
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _reasoning_text(message: Mapping[str, Any]) -> str:
    # DeepSeek, GLM, Qwen and SGLang say `reasoning_content`; newer vLLM says `reasoning`
    for name in ("reasoning_content", "reasoning"):
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _tool_use_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = []
    calls = message.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise UpstreamProtocolError(f"Upstream tool call {index} has no function name.")
        call_id = call.get("id")
        blocks.append(
            {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{index}",
                "name": function["name"],
                "input": parse_arguments(function.get("arguments")),
            }
        )
    return blocks


def openai_response_to_anthropic(
    payload: Mapping[str, Any], *, model: str | None = None, usage: Usage | None = None
) -> dict[str, Any]:
    """An OpenAI chat completion -> an Anthropic message.

    `model` names the model as the client asked for it (default: the upstream's).
    `usage` overrides the usage read from the body's standard fields; a body with
    no readable usage reports zeros (the gateway meters and estimates separately).
    Reasoning text (`reasoning_content`) becomes a thinking block with an empty
    signature, since an OpenAI-compatible upstream has no signature to give.
    """
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamProtocolError("Upstream reply has no choices.")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise UpstreamProtocolError("Upstream reply choice has no message.")
    content: list[dict[str, Any]] = []
    reasoning = _reasoning_text(message)
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _message_text(message.get("content"))
    refusal = message.get("refusal")
    if text:
        content.append({"type": "text", "text": text})
    elif isinstance(refusal, str) and refusal:
        content.append({"type": "text", "text": refusal})
    tool_uses = _tool_use_blocks(message)
    content.extend(tool_uses)
    stop_reason = anthropic_stop_reason(choice.get("finish_reason"), has_tool_calls=bool(tool_uses))
    if not text and isinstance(refusal, str) and refusal:
        stop_reason = "refusal"
    if usage is None:
        usage = usage_from_openai(payload.get("usage")) or ZERO_USAGE
    return {
        "id": anthropic_message_id(payload.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model or payload.get("model") or "",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def anthropic_response_to_openai(
    payload: Mapping[str, Any],
    *,
    created: int,
    model: str | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """An Anthropic message -> an OpenAI chat completion.

    Text blocks are concatenated as they are (a reply's blocks are fragments of one
    text, split by citations or tool calls); thinking becomes `reasoning_content`;
    server-tool blocks, which OpenAI cannot represent, are left out. `created` is the
    Unix time to stamp, passed in because this layer reads no clock.
    """
    blocks = payload.get("content")
    if not isinstance(blocks, list):
        raise UpstreamProtocolError("Upstream message has no content array.")
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": dump_json(block.get("input") or {}),
                    },
                }
            )
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    if usage is None:
        usage = usage_from_anthropic(payload.get("usage")) or ZERO_USAGE
    return {
        "id": payload.get("id"),
        "object": "chat.completion",
        "created": created,
        "model": model or payload.get("model") or "",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": openai_finish_reason(payload.get("stop_reason")),
            }
        ],
        "usage": openai_usage(usage),
    }


__all__ = [
    "anthropic_message_id",
    "anthropic_response_to_openai",
    "openai_response_to_anthropic",
]
