"""OpenAI wire format of the simulator: validate chat bodies, render non-stream replies.

Validation errors are `SimRequestError`, carrying the HTTP status and OpenAI error
fields; the HTTP server renders them as-is and the in-process provider turns them into
`UpstreamStatusError`, exactly as a real upstream's 400/404 would be seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tokenward.providers.simulator.engine import (
    FAULTS,
    ChatRequest,
    Directives,
    ReplyPlan,
    request_hash,
)

SYSTEM_FINGERPRINT = "fp_tokenward_sim"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: directive name -> (parser, allowed range); headers are `x-sim-<name with dashes>`
_INT_DIRECTIVES = {
    "output_tokens": (0, 1_000_000),
    "reasoning_tokens": (0, 1_000_000),
    "chunk_count": (0, 100_000),
    "fault_times": (0, 1_000_000),
    "tool_calls": (1, 16),
    "cache_report": (0, 1),
    "reply_chunk_chars": (1, 1000),
}
_FLOAT_DIRECTIVES = ("chunk_delay_ms", "latency_ms")


class SimRequestError(Exception):
    """A request the simulator refuses, with the OpenAI error fields to answer with."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def payload(self) -> dict[str, Any]:
        return error_payload(self.message, type=self.type, code=self.code, param=self.param)


def error_payload(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, param: str | None, code: str = "invalid_value") -> SimRequestError:
    return SimRequestError(400, message, param=param, code=code)


def read_directives(metadata: Any, headers: Mapping[str, str]) -> Directives:
    """`sim_*` keys of the body's `metadata`, overridden by `x-sim-*` headers."""
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata must be an object", "metadata", "invalid_type")
    raw: dict[str, tuple[str, Any]] = {}
    for key, value in (metadata or {}).items():
        if key.startswith("sim_"):
            raw[key[4:]] = (f"metadata.{key}", value)
    for name, value in headers.items():
        if name.startswith("x-sim-"):
            raw[name[6:].replace("-", "_")] = (name, value)
    values: dict[str, Any] = {}
    for name, (where, value) in raw.items():
        try:
            if name in _INT_DIRECTIVES:
                low, high = _INT_DIRECTIVES[name]
                number = int(str(value))
                if not low <= number <= high:
                    raise ValueError(value)
                values[name] = number
            elif name in _FLOAT_DIRECTIVES:
                values[name] = float(str(value))
                if not 0 <= values[name] <= 3_600_000:
                    raise ValueError(value)
            elif name == "fault":
                if value not in FAULTS:
                    raise ValueError(value)
                values[name] = value
            elif name == "tag":
                values[name] = str(value)
            elif name == "reply":  # exact reply text, e.g. to test redaction
                if not isinstance(value, str) or not 0 < len(value) <= 100_000:
                    raise ValueError(value)
                values[name] = value
            else:
                raise bad_request(f"unknown simulator directive {where}", where)
        except ValueError as exc:
            raise bad_request(f"invalid value for {where}: {value!r}", where) from exc
    return Directives(**values)


def positive_int(body: Mapping[str, Any], name: str, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= high:
        raise bad_request(f"{name} must be an integer in [1, {high}]", name)
    return value


def _check_content(content: Any, where: str, role: str) -> None:
    if content is None:
        if role not in ("assistant", "function"):
            raise bad_request(
                f"{where} is required for role {role!r}", where, "missing_required_parameter"
            )
    elif isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            image = part.get("image_url") if isinstance(part, dict) else None
            url = image.get("url") if isinstance(image, dict) else image
            if kind == "image_url" and isinstance(url, str):
                continue
            raise bad_request(f"unsupported content part at {where}[{j}]", f"{where}[{j}]")
    elif not isinstance(content, str):
        raise bad_request(f"{where} must be a string or a list of parts", where, "invalid_type")


def _check_message(message: Any, i: int) -> Mapping[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise bad_request(f"{where} must be an object with a valid role", f"{where}.role")
    _check_content(message.get("content"), f"{where}.content", message["role"])
    if "name" in message and not isinstance(message["name"], str):
        raise bad_request(f"{where}.name must be a string", f"{where}.name", "invalid_type")
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise bad_request(f"{where}.tool_calls must be a list", f"{where}.tool_calls")
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise bad_request(f"{where}.tool_calls entries need a function name", f"{where}")
    if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise bad_request(f"{where}.tool_call_id is required", f"{where}.tool_call_id")
    return message


def _check_tools(body: Mapping[str, Any]) -> tuple[tuple[Mapping[str, Any], ...], str]:
    tools = body.get("tools")
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise bad_request("tools must be a list", "tools", "invalid_type")
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        params = function.get("parameters", {}) if isinstance(function, dict) else None
        if kind != "function" or not isinstance(name, str) or not isinstance(params, dict):
            raise bad_request(f"tools[{i}] must be a function with a name", f"tools[{i}]")
        if not _FUNCTION_NAME.match(name):
            raise bad_request(f"tools[{i}].function.name is invalid", f"tools[{i}].function.name")
    choice = body.get("tool_choice")
    if choice is None:
        return tuple(tools), "auto"
    if not tools:
        raise bad_request("tool_choice is only allowed when tools are specified", "tool_choice")
    if choice in ("none", "auto", "required"):
        return tuple(tools), str(choice)
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if named not in {t["function"]["name"] for t in tools}:
        raise bad_request(
            "tool_choice must be none, auto, required or an offered function", "tool_choice"
        )
    return tuple(tools), str(named)


def check_model(body: Any, models: Sequence[str]) -> str:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", None, "invalid_type")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("model is required", "model", "missing_required_parameter")
    if model not in models:
        raise SimRequestError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return model


def parse_chat(body: Any, models: Sequence[str], headers: Mapping[str, str]) -> ChatRequest:
    """Validate a chat completion body; raises `SimRequestError` (400 / 404)."""
    model = check_model(body, models)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(
            "messages must be a non-empty list", "messages", "missing_required_parameter"
        )
    checked = tuple(_check_message(m, i) for i, m in enumerate(messages))
    stream = body.get("stream") or False
    options = body.get("stream_options")
    if not isinstance(stream, bool):
        raise bad_request("stream must be a boolean", "stream", "invalid_type")
    if options is not None and (not stream or not isinstance(options, dict)):
        raise bad_request("stream_options is only allowed when stream is true", "stream_options")
    include_usage = bool(options and options.get("include_usage"))
    caps = [positive_int(body, k, 10_000_000) for k in ("max_tokens", "max_completion_tokens")]
    tools, tool_choice = _check_tools(body)
    return ChatRequest(
        model=model,
        messages=checked,
        hash=request_hash(body),
        n=positive_int(body, "n", 128) or 1,
        max_tokens=min((c for c in caps if c is not None), default=None),
        stream=stream,
        include_usage=include_usage,
        tools=tools,
        tool_choice=tool_choice,
        directives=read_directives(body.get("metadata"), headers),
    )


def completion_body(
    plan: ReplyPlan, *, created: int, usage: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The non-stream `chat.completion` object; `usage` in the dialect's shape (default OpenAI)."""
    choices = []
    for choice in plan.choices:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if choice.tool_calls else choice.text,
            "refusal": None,
            "annotations": [],
        }
        if choice.reasoning:
            message["reasoning_content"] = " ".join(choice.reasoning)
        if choice.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in choice.tool_calls
            ]
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": plan.completion_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
        "usage": plan.usage() if usage is None else usage,
        "service_tier": "default",
    }


def models_body(models: Sequence[str]) -> dict[str, Any]:
    """`GET /v1/models`."""
    data = [
        {"id": m, "object": "model", "created": 1767225600, "owned_by": "tokenward-simulator"}
        for m in models
    ]
    return {"object": "list", "data": data}


__all__ = [
    "SYSTEM_FINGERPRINT",
    "SimRequestError",
    "bad_request",
    "check_model",
    "completion_body",
    "error_payload",
    "models_body",
    "parse_chat",
    "positive_int",
    "read_directives",
]
