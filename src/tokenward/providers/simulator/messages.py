"""The simulator's Anthropic dialect: ``POST /v1/messages``, served natively.

A Messages request is validated by the gateway's own `parse_messages_request`, then
translated to OpenAI (`anthropic_request_to_openai`) and planned by the same engine,
so its reply follows the same token rules: its prompt tokens, and the hash that seeds
its words, are those of its OpenAI translation, to which its ``metadata`` (where
``sim_*`` directives live; keys beyond Anthropic's ``user_id`` are accepted) is added.
The plan is rendered back as an Anthropic message or event stream, with the BILLED
usage (`dialects.Shape.billed`) put in, never re-read:

* ``input_tokens`` EXCLUDES cache reads and writes: ``prompt - cached - cache_write``;
  ``cache_read_input_tokens`` = cached, ``cache_creation_input_tokens`` = cache_write;
  ``output_tokens`` = completion (reasoning included, also reported as
  ``output_tokens_details.thinking_tokens`` as `translate.anthropic_usage` does).
* A stream sends ``message_start`` (input and cache counts, ``output_tokens``
  ``min(1, completion)`` as Anthropic does), ``ping``, the content blocks, then one
  ``message_delta`` whose usage holds the final CUMULATIVE counts, and
  ``message_stop``. A failure mid-stream is an ``event: error``.

Errors are Anthropic's ``{"type": "error", "error": {"type", "message"}}`` with the
type Anthropic pairs with each status (400, 404, 413, 429, 500, 529).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson

from tokenward.errors import InvalidRequest
from tokenward.metering.usage import Usage
from tokenward.providers.dialects.anthropic import parse_messages_request
from tokenward.providers.dialects.translate import (
    AnthropicEvent,
    OpenAIToAnthropicStream,
    anthropic_request_to_openai,
    encode_anthropic_event,
    openai_response_to_anthropic,
)
from tokenward.providers.simulator.dialects import has_cache_control
from tokenward.providers.simulator.engine import Fault, ReplyPlan
from tokenward.providers.simulator.sse import Piece, StreamPlan, stream_plan
from tokenward.providers.simulator.wire import SimRequestError, completion_body, error_payload

#: upper bound of `max_tokens` (the engine caps replies, it does not refuse long ones)
MAX_TOKENS = 10_000_000
#: HTTP status -> Anthropic error type
ERROR_TYPES: MappingProxyType[int, str] = MappingProxyType(
    {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        500: "api_error",
        503: "overloaded_error",
        529: "overloaded_error",
    }
)
_PING = encode_anthropic_event(("ping", {"type": "ping"}))


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """The Anthropic error body for an HTTP status."""
    kind = ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def chat_body_of(raw: bytes) -> tuple[dict[str, Any], bool]:
    """A Messages body -> (the OpenAI body the engine plans, whether it marks cache_control).

    Raises `SimRequestError` (400) for what Anthropic or the translation refuses.
    """
    try:
        request = parse_messages_request(raw, max_output_tokens=MAX_TOKENS)
        body = anthropic_request_to_openai(request.payload)
    except InvalidRequest as exc:
        raise SimRequestError(400, exc.message, param=exc.param) from exc
    metadata = request.payload.get("metadata")
    if metadata:
        body["metadata"] = metadata  # the sim_* directives; the engine validates them
    return body, has_cache_control(request.payload)


def fresh_input(usage: Usage) -> int:
    """Anthropic's ``input_tokens``: the input that was neither read from nor written to cache."""
    return usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens


def message_body(plan: ReplyPlan, usage: Usage, *, created: int) -> dict[str, Any]:
    """The non-stream Anthropic message."""
    completion = completion_body(plan, created=created, usage={})
    return openai_response_to_anthropic(completion, model=plan.model, usage=usage)


def _frames(events: list[AnthropicEvent]) -> bytes:
    return b"".join(encode_anthropic_event(event) for event in events)


def message_stream(plan: ReplyPlan, usage: Usage, *, created: int, chunk_count: int) -> StreamPlan:
    """Every event of the streamed message, pre-framed; pieces match the OpenAI plan's."""
    source = stream_plan(plan, created=created, chunk_count=chunk_count, include_usage=False)
    translator = OpenAIToAnthropicStream(model=plan.model, input_tokens=fresh_input(usage))
    head = [event for payload in source.head for event in translator.feed(orjson.loads(payload))]
    for name, data in head:
        if name == "message_start":
            data["message"]["usage"] = {
                "input_tokens": fresh_input(usage),
                "cache_creation_input_tokens": usage.cache_write_tokens,
                "cache_read_input_tokens": usage.cached_input_tokens,
                "output_tokens": min(1, usage.output_tokens),
            }
    pieces = tuple(
        Piece(_frames(translator.feed(orjson.loads(piece.data))), piece.tokens)
        for piece in source.pieces
    )
    for payload in source.tail:
        translator.feed(orjson.loads(payload))  # the finish reason; no events of its own
    *closing, delta, stop = translator.finish(usage=usage)
    return StreamPlan(
        head=(_frames(head), _PING),
        pieces=pieces,
        tail=(_frames(closing),) if closing else (),
        usage=encode_anthropic_event(delta),
        end=(encode_anthropic_event(stop),),
        framed=True,
    )


def error_event(message: str) -> bytes:
    """A mid-stream failure, as Anthropic reports one after 200 OK."""
    return encode_anthropic_event(("error", anthropic_error(500, message)))


def fault_reply(fault: Fault, *, anthropic: bool) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, body and extra headers of a fault that strikes before any output."""
    headers: list[tuple[bytes, bytes]] = []
    if fault == "rate_limit":
        status, message = 429, "Rate limit reached (simulated)."
        kind, code = "requests", "rate_limit_exceeded"
        headers.append((b"retry-after", b"1"))
    elif fault == "overloaded":
        status, message = (529 if anthropic else 503), "The server is overloaded (simulated)."
        kind, code = "server_error", "overloaded"
    else:
        status = 500
        message = "The server had an error while processing your request (simulated)."
        kind, code = "server_error", "sim_injected_error"
    if anthropic:
        payload = anthropic_error(status, message)
    else:
        payload = error_payload(message, type=kind, code=code)
    return status, orjson.dumps(payload), headers


__all__ = [
    "ERROR_TYPES",
    "MAX_TOKENS",
    "anthropic_error",
    "chat_body_of",
    "error_event",
    "fault_reply",
    "fresh_input",
    "message_body",
    "message_stream",
]
