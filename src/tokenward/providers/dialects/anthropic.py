"""The Anthropic Messages dialect: validating `/v1/messages` requests.

Same policy as the OpenAI dialect: strict on what the gateway relies on or must
translate (model, max_tokens, roles, the content blocks we know, tools,
tool_choice, sampling ranges), and permissive on the rest, so a field or block type
Anthropic adds tomorrow still reaches a native Anthropic upstream. Translation onto
an OpenAI upstream rejects what it cannot express (see `translate`). Every failure
names the offending `param`, as Anthropic's own errors do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenward.errors import InvalidRequest
from tokenward.providers.dialects.openai import (
    _model,
    _optional_bool,
    _optional_int,
    _optional_number,
    parse_json_object,
)

MESSAGE_ROLES = frozenset({"user", "assistant"})
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
TOOL_CHOICE_TYPES = frozenset({"auto", "any", "tool", "none"})
#: block type -> the roles it may appear in (Anthropic rejects the others)
_BLOCK_ROLES: dict[str, frozenset[str]] = {
    "text": MESSAGE_ROLES,
    "image": frozenset({"user"}),
    "tool_use": frozenset({"assistant"}),
    "tool_result": frozenset({"user"}),
    "thinking": frozenset({"assistant"}),
    "redacted_thinking": frozenset({"assistant"}),
}


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A validated Messages request. `payload` is the client's JSON object."""

    payload: dict[str, Any]
    model: str
    stream: bool
    #: Anthropic's required `max_tokens`
    max_output_tokens: int


def _fail(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _string(block: dict[str, Any], name: str, where: str) -> str:
    value = block.get(name)
    if not isinstance(value, str):
        raise _fail(f"'{where}.{name}' must be a string.", f"{where}.{name}")
    return value


def _image(block: dict[str, Any], where: str) -> None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _fail(f"'{where}.source' must be an object.", f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        if source.get("media_type") not in IMAGE_MEDIA_TYPES:
            allowed = ", ".join(sorted(IMAGE_MEDIA_TYPES))
            raise _fail(
                f"'{where}.source.media_type' must be one of {allowed}.",
                f"{where}.source.media_type",
            )
        _string(source, "data", f"{where}.source")
    elif kind == "url":
        _string(source, "url", f"{where}.source")
    else:
        raise _fail(f"'{where}.source.type' must be 'base64' or 'url'.", f"{where}.source.type")


def _tool_result_content(block: dict[str, Any], where: str) -> None:
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail(f"'{where}.content' must be a string or an array.", f"{where}.content")
    for index, inner in enumerate(content):
        inner_where = f"{where}.content[{index}]"
        kind = inner.get("type") if isinstance(inner, dict) else None
        if kind == "text":
            _string(inner, "text", inner_where)
        elif kind == "image":
            _image(inner, inner_where)
        elif not isinstance(kind, str):
            raise _fail(f"'{inner_where}' must be an object with a 'type'.", inner_where)


def _block(block: Any, role: str, where: str) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(block, dict) or not isinstance(kind, str):
        raise _fail(f"'{where}' must be an object with a 'type'.", where)
    allowed = _BLOCK_ROLES.get(kind)
    if allowed is None:
        return  # a block type we do not know: the upstream judges it
    if role not in allowed:
        raise _fail(f"'{where}': a '{kind}' block may not appear in a '{role}' turn.", where)
    if kind == "text":
        _string(block, "text", where)
    elif kind == "image":
        _image(block, where)
    elif kind == "tool_use":
        _string(block, "id", where)
        _string(block, "name", where)
        if not isinstance(block.get("input"), dict):
            raise _fail(f"'{where}.input' must be an object.", f"{where}.input")
    elif kind == "tool_result":
        _string(block, "tool_use_id", where)
        _tool_result_content(block, where)
        if block.get("is_error") is not None and not isinstance(block["is_error"], bool):
            raise _fail(f"'{where}.is_error' must be a boolean.", f"{where}.is_error")
    elif kind == "thinking":
        _string(block, "thinking", where)
    else:  # redacted_thinking
        _string(block, "data", where)


def _messages(payload: dict[str, Any]) -> None:
    messages = payload.get("messages")
    if messages is None:
        raise _fail("Missing required parameter: 'messages'.", "messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("'messages' must be a non-empty array.", "messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _fail(f"'{where}' must be an object.", where)
        role = message.get("role")
        if role not in MESSAGE_ROLES:
            raise _fail(f"'{where}.role' must be 'user' or 'assistant'.", f"{where}.role")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _fail(
                f"'{where}.content' must be a string or an array of content blocks.",
                f"{where}.content",
            )
        for block_index, block in enumerate(content):
            _block(block, role, f"{where}.content[{block_index}]")


def _system(payload: dict[str, Any]) -> None:
    system = payload.get("system")
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _fail("'system' must be a string or an array of text blocks.", "system")
    for index, block in enumerate(system):
        where = f"system[{index}]"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _fail(f"'{where}' must be a text block.", where)
        _string(block, "text", where)


def _tools(payload: dict[str, Any]) -> None:
    tools = payload.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail("'tools' must be an array.", "tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _fail(f"'{where}' must be an object.", where)
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"'{where}.name' must be a non-empty string.", f"{where}.name")
        if tool.get("type", "custom") != "custom":
            continue  # a server or built-in tool (web search, bash, ...): no schema of ours
        if not isinstance(tool.get("input_schema"), dict):
            raise _fail(f"'{where}.input_schema' must be an object.", f"{where}.input_schema")
        if tool.get("description") is not None and not isinstance(tool["description"], str):
            raise _fail(f"'{where}.description' must be a string.", f"{where}.description")


def _tool_choice(payload: dict[str, Any]) -> None:
    choice = payload.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
        raise _fail(
            "'tool_choice' must be an object with 'type' one of auto, any, tool, none.",
            "tool_choice",
        )
    if choice["type"] == "tool":
        _string(choice, "name", "tool_choice")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and not isinstance(flag, bool):
        raise _fail(
            "'tool_choice.disable_parallel_tool_use' must be a boolean.",
            "tool_choice.disable_parallel_tool_use",
        )


def _stop_sequences(payload: dict[str, Any]) -> None:
    stops = payload.get("stop_sequences")
    if stops is None:
        return
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _fail("'stop_sequences' must be an array of non-empty strings.", "stop_sequences")


def _metadata(payload: dict[str, Any]) -> None:
    metadata = payload.get("metadata")
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise _fail("'metadata' must be an object.", "metadata")
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise _fail("'metadata.user_id' must be a string.", "metadata.user_id")


def parse_messages_request(body: bytes, *, max_output_tokens: int) -> MessagesRequest:
    """Validate a `/v1/messages` body; `max_tokens` is required, as Anthropic requires it."""
    payload = parse_json_object(body)
    model = _model(payload)
    max_tokens = _optional_int(payload, "max_tokens", 1, max_output_tokens)
    if max_tokens is None:
        raise _fail("Missing required parameter: 'max_tokens'.", "max_tokens")
    _messages(payload)
    _system(payload)
    stream = _optional_bool(payload, "stream")
    _optional_number(payload, "temperature", 0, 1)
    _optional_number(payload, "top_p", 0, 1)
    _optional_int(payload, "top_k", 0, 1_000_000)
    _stop_sequences(payload)
    _tools(payload)
    _tool_choice(payload)
    _metadata(payload)
    return MessagesRequest(
        payload=payload, model=model, stream=stream, max_output_tokens=max_tokens
    )


__all__ = ["MessagesRequest", "parse_messages_request"]
