"""The OpenAI wire dialect: validating client requests before anything is reserved or sent.

Validation is strict on the fields the gateway relies on (model, messages, stream,
n, token limits, tools) and lets every other field through untouched, so new OpenAI
parameters keep working without a release. Each failure names the offending `param`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from tokenward.errors import InvalidRequest

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat-completions request. `payload` is the client's JSON object."""

    payload: dict[str, Any]
    model: str
    stream: bool
    #: whether the client itself asked for the final usage chunk
    include_usage: bool
    max_output_tokens: int | None
    choices: int


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """A validated embeddings request."""

    payload: dict[str, Any]
    model: str


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Bytes -> JSON object, or InvalidRequest (bad JSON, bad UTF-8, too deep, not an object)."""
    if not body:
        raise InvalidRequest("Request body is empty; expected a JSON object.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    return value


def _model(payload: dict[str, Any]) -> str:
    model = payload.get("model")
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    if len(model) > 256 or any(ch in model for ch in "\r\n\x00"):
        raise InvalidRequest("'model' is not a valid model name.", param="model")
    return model


def _optional_int(payload: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise InvalidRequest(f"'{name}' must be an integer.", param=name)
    if not low <= value <= high:
        raise InvalidRequest(f"'{name}' must be between {low} and {high}.", param=name)
    return value


def _optional_number(payload: dict[str, Any], name: str, low: float, high: float) -> None:
    value = payload.get(name)
    if value is None:
        return
    if type(value) not in (int, float) or not math.isfinite(value):
        raise InvalidRequest(f"'{name}' must be a number.", param=name)
    if not low <= value <= high:
        raise InvalidRequest(f"'{name}' must be between {low} and {high}.", param=name)


def _optional_bool(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    return value


def _messages(payload: dict[str, Any]) -> None:
    messages = payload.get("messages")
    if messages is None:
        raise InvalidRequest("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        role = message.get("role")
        if role not in CHAT_ROLES:
            raise InvalidRequest(
                f"'{where}.role' must be one of {', '.join(sorted(CHAT_ROLES))}.",
                param=f"{where}.role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequest(
                f"'{where}.content' must be a string or an array of content parts.",
                param=f"{where}.content",
            )
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise InvalidRequest(
                        f"'{where}.content[{part_index}]' must be an object with a 'type'.",
                        param=f"{where}.content[{part_index}]",
                    )


def _tools(payload: dict[str, Any]) -> None:
    tools = payload.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
        ):
            raise InvalidRequest(
                f"'tools[{index}]' must be {{'type': 'function', 'function': {{'name': ...}}}}.",
                param=f"tools[{index}]",
            )


def parse_chat_request(body: bytes, *, max_output_tokens: int, max_choices: int) -> ChatRequest:
    """Validate a `/v1/chat/completions` body."""
    payload = parse_json_object(body)
    model = _model(payload)
    _messages(payload)
    stream = _optional_bool(payload, "stream")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    include_usage = False
    if isinstance(options, dict) and options.get("include_usage") is not None:
        include_usage = _optional_bool(options, "include_usage")
    limit = _optional_int(payload, "max_completion_tokens", 1, max_output_tokens)
    legacy_limit = _optional_int(payload, "max_tokens", 1, max_output_tokens)
    choices = _optional_int(payload, "n", 1, max_choices) or 1
    _optional_number(payload, "temperature", 0, 2)
    _optional_number(payload, "top_p", 0, 1)
    _optional_number(payload, "presence_penalty", -2, 2)
    _optional_number(payload, "frequency_penalty", -2, 2)
    _tools(payload)
    return ChatRequest(
        payload=payload,
        model=model,
        stream=stream,
        include_usage=include_usage,
        max_output_tokens=limit if limit is not None else legacy_limit,
        choices=choices,
    )


def parse_embeddings_request(body: bytes) -> EmbeddingsRequest:
    """Validate a `/v1/embeddings` body."""
    payload = parse_json_object(body)
    model = _model(payload)
    value = payload.get("input")
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    valid = (isinstance(value, str) and value != "") or (
        isinstance(value, list)
        and value
        and (
            all(isinstance(v, str) and v for v in value)
            or all(type(v) is int for v in value)
            or all(isinstance(v, list) and v and all(type(t) is int for t in v) for v in value)
        )
    )
    if not valid:
        raise InvalidRequest(
            "'input' must be a non-empty string, array of strings, or array of token arrays.",
            param="input",
        )
    encoding = payload.get("encoding_format")
    if encoding is not None and encoding not in ("float", "base64"):
        raise InvalidRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    _optional_int(payload, "dimensions", 1, 65536)
    return EmbeddingsRequest(payload=payload, model=model)


__all__ = [
    "ChatRequest",
    "EmbeddingsRequest",
    "parse_chat_request",
    "parse_embeddings_request",
    "parse_json_object",
]
