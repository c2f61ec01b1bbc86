"""Request bodies across dialects: Anthropic Messages <-> OpenAI chat completions.

Both functions take an already validated payload (see `parse_messages_request` and
`parse_chat_request`) and return a new body; the input is never mutated. What one
dialect cannot express raises `InvalidRequest` naming the param, instead of being
dropped silently: server tools, document blocks, `n > 1`, logprobs, JSON modes.

Deliberately lossy, and harmless: Anthropic `thinking` blocks in the history, `top_k`,
`cache_control` markers and `is_error` on tool results are not sent to an OpenAI
upstream; several text blocks of one turn are joined with a blank line, because
several OpenAI-compatible vendors accept only a string as message content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenward.errors import InvalidRequest
from tokenward.providers.dialects.translate.mapping import (
    ANTHROPIC_TO_OPENAI_TOOL_CHOICE,
    OPENAI_TO_ANTHROPIC_TOOL_CHOICE,
    dump_json,
    image_source,
    image_url,
    parse_arguments,
)

#: how the text blocks of one request turn are joined into one OpenAI string
TEXT_JOIN = "\n\n"


def _unsupported(what: str, where: str) -> InvalidRequest:
    return InvalidRequest(f"'{where}': {what} cannot be sent to this upstream.", param=where)


# --- Anthropic -> OpenAI ---------------------------------------------------------------


def _openai_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only turns become one string; turns with images keep their parts."""
    if all(part["type"] == "text" for part in parts):
        return TEXT_JOIN.join(part["text"] for part in parts)
    return parts


def _image_part(block: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image_url(block["source"])}}


def _tool_message(
    block: Mapping[str, Any], images: list[dict[str, Any]], where: str
) -> dict[str, Any]:
    """A tool_result block -> an OpenAI tool message; its images go to `images`.

    OpenAI tool messages carry text only, so images move to the user message that
    follows the tool messages.
    """
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts = []
        for inner in content:
            if inner["type"] == "text":
                texts.append(inner["text"])
            elif inner["type"] == "image":
                images.append(_image_part(inner))
            else:
                raise _unsupported(f"a '{inner['type']}' block in a tool result", where)
        text = TEXT_JOIN.join(texts)
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}


def _user_turn(content: list[Any], where: str, out: list[dict[str, Any]]) -> None:
    """Tool results first (OpenAI wants them right after the assistant's tool calls)."""
    parts: list[dict[str, Any]] = []
    had_results = False
    for index, block in enumerate(content):
        kind = block["type"]
        if kind == "tool_result":
            out.append(_tool_message(block, parts, f"{where}.content[{index}]"))
            had_results = True
        elif kind == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image_part(block))
        else:
            raise _unsupported(f"a '{kind}' block", f"{where}.content[{index}]")
    if parts or not had_results:
        out.append({"role": "user", "content": _openai_content(parts) if parts else ""})


def _assistant_turn(content: list[Any], where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block["type"]
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": dump_json(block["input"])},
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise _unsupported(f"a '{kind}' block", f"{where}.content[{index}]")
    message: dict[str, Any] = {"role": "assistant", "content": TEXT_JOIN.join(texts)}
    if calls:
        message["tool_calls"] = calls
        if not texts:
            message["content"] = None
    return message


def _openai_tools(payload: Mapping[str, Any], body: dict[str, Any]) -> None:
    tools = payload.get("tools")
    if not tools:
        return
    functions = []
    for index, tool in enumerate(tools):
        if tool.get("type", "custom") != "custom":
            raise _unsupported(f"the server tool '{tool.get('type')}'", f"tools[{index}]")
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool["input_schema"]}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    body["tools"] = functions
    choice = payload.get("tool_choice")
    if choice is None:
        return
    if choice["type"] == "tool":
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        body["tool_choice"] = ANTHROPIC_TO_OPENAI_TOOL_CHOICE[choice["type"]]
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False


def anthropic_request_to_openai(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A validated Messages body -> an OpenAI chat-completions body.

    Streams ask the upstream for its usage chunk (`stream_options.include_usage`),
    since usage is what the gateway bills.
    """
    messages: list[dict[str, Any]] = []
    system = payload.get("system")
    if isinstance(system, str):
        messages.append({"role": "system", "content": system})
    elif system:
        messages.append({"role": "system", "content": TEXT_JOIN.join(b["text"] for b in system)})
    for index, message in enumerate(payload["messages"]):
        role, content = message["role"], message["content"]
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
        elif role == "assistant":
            messages.append(_assistant_turn(content, f"messages[{index}]"))
        else:
            _user_turn(content, f"messages[{index}]", messages)
    body: dict[str, Any] = {
        "model": payload["model"],
        "messages": messages,
        "max_tokens": payload["max_tokens"],
    }
    for name in ("temperature", "top_p"):
        if payload.get(name) is not None:
            body[name] = payload[name]
    if payload.get("stop_sequences"):
        body["stop"] = list(payload["stop_sequences"])
    metadata = payload.get("metadata")
    if isinstance(metadata, dict) and metadata.get("user_id"):
        body["user"] = metadata["user_id"]
    _openai_tools(payload, body)
    if payload.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# --- OpenAI -> Anthropic ---------------------------------------------------------------


def _texts(content: Any, where: str) -> list[str]:
    """Text of a string or of text/refusal parts (system, developer, tool, assistant)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind in ("text", "refusal"):
            texts.append(part.get(kind) or "")
        else:
            raise _unsupported(f"a '{kind}' part here", f"{where}.content[{index}]")
    return texts


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content or ()):
        part_where = f"{where}.content[{index}]"
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            blocks.append({"type": "image", "source": image_source(url, part_where)})
        else:
            raise _unsupported(f"a '{kind}' part", part_where)
    return blocks


def _assistant_blocks(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    # empty text blocks are refused by Anthropic, and mean nothing
    texts = _texts(message.get("content"), where)
    blocks: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts if t]
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    for index, call in enumerate(calls):
        call_where = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("name"), str)
        ):
            raise InvalidRequest(
                f"'{call_where}' must have an 'id' and a 'function.name'.", param=call_where
            )
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": parse_arguments(function.get("arguments")),
            }
        )
    return blocks


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str):
        raise InvalidRequest(
            f"'{where}.tool_call_id' must be a string.", param=f"{where}.tool_call_id"
        )
    content = TEXT_JOIN.join(_texts(message.get("content"), where))
    return {"type": "tool_result", "tool_use_id": call_id, "content": content}


def _anthropic_turns(messages: list[Any], system: list[str]) -> list[dict[str, Any]]:
    """Messages -> alternating turns; tool messages become user tool_result blocks."""
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where, role = f"messages[{index}]", message["role"]
        if role in ("system", "developer"):
            system.extend(_texts(message.get("content"), where))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), where)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        else:
            raise _unsupported(f"the '{role}' role", f"{where}.role")
        if not blocks:
            continue
        # consecutive same-role turns merge, as Anthropic itself would merge them
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return turns


def _anthropic_tools(payload: Mapping[str, Any], body: dict[str, Any]) -> None:
    tools = payload.get("tools")
    if not tools:
        return
    body["tools"] = []
    for tool in tools:
        function = tool["function"]
        converted: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description") is not None:
            converted["description"] = function["description"]
        body["tools"].append(converted)
    choice = payload.get("tool_choice")
    converted_choice: dict[str, Any] = {"type": "auto"}
    if isinstance(choice, str) and choice in OPENAI_TO_ANTHROPIC_TOOL_CHOICE:
        converted_choice = {"type": OPENAI_TO_ANTHROPIC_TOOL_CHOICE[choice]}
    elif isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        converted_choice = {"type": "tool", "name": choice["function"]["name"]}
    elif choice is not None:
        raise InvalidRequest("'tool_choice' is not a valid tool choice.", param="tool_choice")
    if payload.get("parallel_tool_calls") is False:
        converted_choice["disable_parallel_tool_use"] = True
    if choice is not None or "disable_parallel_tool_use" in converted_choice:
        body["tool_choice"] = converted_choice


def _refuse_unsupported(payload: Mapping[str, Any]) -> None:
    if (payload.get("n") or 1) != 1:
        raise InvalidRequest("'n' greater than 1 is not supported by this upstream.", param="n")
    for name in ("functions", "function_call", "audio"):
        if payload.get(name) is not None:
            raise _unsupported(f"'{name}'", name)
    if payload.get("logprobs"):
        raise _unsupported("'logprobs'", "logprobs")
    response_format = payload.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise _unsupported(f"response_format '{response_format.get('type')}'", "response_format")


def openai_request_to_anthropic(
    payload: Mapping[str, Any], *, default_max_tokens: int
) -> dict[str, Any]:
    """A validated chat-completions body -> an Anthropic Messages body.

    System and developer messages, wherever they stand, become the top-level
    `system`. `max_tokens` is required by Anthropic: without the client's
    `max_completion_tokens` / `max_tokens`, `default_max_tokens` is used.
    Temperature is clamped to Anthropic's [0, 1].
    """
    _refuse_unsupported(payload)
    system: list[str] = []
    turns = _anthropic_turns(payload["messages"], system)
    limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
    body: dict[str, Any] = {
        "model": payload["model"],
        "max_tokens": limit or default_max_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = TEXT_JOIN.join(system)
    if payload.get("temperature") is not None:
        body["temperature"] = min(payload["temperature"], 1)
    if payload.get("top_p") is not None:
        body["top_p"] = payload["top_p"]
    stop = payload.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if isinstance(payload.get("user"), str):
        body["metadata"] = {"user_id": payload["user"]}
    _anthropic_tools(payload, body)
    if payload.get("stream"):
        body["stream"] = True
    return body


__all__ = ["TEXT_JOIN", "anthropic_request_to_openai", "openai_request_to_anthropic"]
