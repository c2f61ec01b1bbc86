"""SSE streams across dialects, one stateful translator per direction.

`OpenAIToAnthropicStream` turns chat-completion chunks into the Anthropic event
sequence: `message_start`, then per content block `content_block_start`, its deltas
and `content_block_stop` (thinking, text, then one block per tool call), then
`message_delta` (stop reason and usage) and `message_stop`. OpenAI reports usage in
its last chunk, so the real input count travels in the final `message_delta`,
whose usage Anthropic clients (the official SDK included) read as totals.

`AnthropicToOpenAIStream` goes the other way. Anthropic `message_delta` usage is
CUMULATIVE and may come several times (server tools): the last value is booked,
never the sum (R-SSE-4), through `metering.AnthropicStreamUsage`.

Both are pure: feed them parsed payloads, write what they return. Neither reads a
clock or the network; `encode_*` render the SSE bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tokenward.errors import UpstreamError
from tokenward.metering.anthropic import AnthropicStreamUsage
from tokenward.metering.normalize import usage_from_openai
from tokenward.metering.usage import Usage
from tokenward.providers.dialects.translate.mapping import (
    anthropic_stop_reason,
    anthropic_usage,
    as_object,
    dump_json,
    openai_finish_reason,
    openai_usage,
)
from tokenward.providers.dialects.translate.responses import anthropic_message_id

#: an Anthropic event: (event name, data object)
AnthropicEvent = tuple[str, dict[str, Any]]


def encode_anthropic_event(event: AnthropicEvent) -> bytes:
    """`("message_stop", {...})` -> `b"event: message_stop\\ndata: {...}\\n\\n"`."""
    name, data = event
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def encode_openai_chunk(chunk: Mapping[str, Any]) -> bytes:
    """A chunk -> `b"data: {...}\\n\\n"` (the caller writes the final `data: [DONE]`)."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class OpenAIToAnthropicStream:
    """OpenAI chunks in, Anthropic events out.

    `model` is the name the client asked for; `input_tokens` is the estimate shown
    in `message_start` until the upstream's usage chunk gives the truth. Pass a
    vendor preset's parser as `usage_parser` to read its cache and reasoning fields.

        stream = OpenAIToAnthropicStream(model="claude-alias")
        for chunk in upstream_chunks:
            for event in stream.feed(chunk):
                send(encode_anthropic_event(event))
        for event in stream.finish():
            send(encode_anthropic_event(event))
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str | None = None,
        input_tokens: int = 0,
        usage_parser: Callable[[Any], Usage | None] = usage_from_openai,
    ) -> None:
        self._model = model
        self._message_id = message_id
        self._input_estimate = input_tokens
        self._parse_usage = usage_parser
        self._usage: Usage | None = None
        self._started = False
        self._done = False
        self._index = -1  # index of the last opened content block
        self._open: str | None = None  # kind of the open block: text, thinking, tool
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self._finish_reason: Any = None

    @property
    def usage(self) -> Usage | None:
        """The upstream's last reported usage (None until its usage chunk arrives)."""
        return self._usage

    def _start(self, chunk_id: Any) -> AnthropicEvent:
        self._started = True
        if self._message_id is None:
            self._message_id = anthropic_message_id(chunk_id)
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_estimate, "output_tokens": 0},
        }
        return "message_start", {"type": "message_start", "message": message}

    def _close(self, events: list[AnthropicEvent]) -> None:
        if self._open is not None:
            events.append(
                ("content_block_stop", {"type": "content_block_stop", "index": self._index})
            )
            self._open = None

    def _begin(self, kind: str, block: dict[str, Any], events: list[AnthropicEvent]) -> None:
        self._close(events)
        self._index += 1
        self._open = kind
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )

    def _delta(self, index: int, delta: dict[str, Any], events: list[AnthropicEvent]) -> None:
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        )

    def _tool_delta(self, position: int, call: Any, events: list[AnthropicEvent]) -> None:
        if not isinstance(call, dict):
            return
        key = call.get("index")
        if type(key) is not int:
            key = position  # a vendor that leaves `index` out sends calls in list order
        function = as_object(call.get("function"))
        if key not in self._tool_blocks:
            call_id = call.get("id") or f"toolu_{self._message_id}_{key}"
            block = {"type": "tool_use", "id": call_id, "name": function.get("name") or ""}
            self._begin("tool", {**block, "input": {}}, events)
            self._tool_blocks[key] = self._index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # a late fragment of an earlier call keeps its own block index; the SDK
            # accumulates by index, and OpenAI itself never interleaves calls
            delta = {"type": "input_json_delta", "partial_json": arguments}
            self._delta(self._tool_blocks[key], delta, events)

    def _choice(self, choice: Mapping[str, Any], events: list[AnthropicEvent]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                if self._open != "thinking":
                    block = {"type": "thinking", "thinking": "", "signature": ""}
                    self._begin("thinking", block, events)
                self._delta(self._index, {"type": "thinking_delta", "thinking": reasoning}, events)
            content = delta.get("content")
            if isinstance(content, str) and content:
                if self._open != "text":
                    self._begin("text", {"type": "text", "text": ""}, events)
                self._delta(self._index, {"type": "text_delta", "text": content}, events)
            calls = delta.get("tool_calls")
            for position, call in enumerate(calls if isinstance(calls, list) else ()):
                self._tool_delta(position, call, events)
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]

    def feed(self, chunk: Mapping[str, Any]) -> list[AnthropicEvent]:
        """One parsed chunk -> the events it produces (often one, sometimes none)."""
        events: list[AnthropicEvent] = []
        if self._done:
            return events
        if not self._started:
            events.append(self._start(chunk.get("id")))
        if chunk.get("usage") is not None:
            # vendors that repeat usage on several chunks send running totals: last wins
            self._usage = self._parse_usage(chunk["usage"]) or self._usage
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            # an Anthropic client cannot ask for n > 1, so only choice 0 exists
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, events)
        return events

    def finish(self, *, usage: Usage | None = None) -> list[AnthropicEvent]:
        """Close the message; `usage` overrides the upstream's (e.g. an estimate)."""
        if self._done:
            return []
        self._done = True
        events: list[AnthropicEvent] = []
        if not self._started:
            events.append(self._start(None))
        self._close(events)
        final = usage or self._usage
        stop = anthropic_stop_reason(self._finish_reason, has_tool_calls=bool(self._tool_blocks))
        delta_usage = anthropic_usage(final) if final else {"output_tokens": 0}
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": delta_usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


class AnthropicToOpenAIStream:
    """Anthropic events in, OpenAI chunks out.

    `include_usage` says whether the client asked for the final usage chunk
    (`stream_options.include_usage`); without it the chunk is not sent, so the
    client sees the shape it asked for, while `usage` still feeds the meter.
    """

    def __init__(self, *, created: int, model: str | None = None, include_usage: bool = True):
        self._created = created
        self._model = model
        self._include_usage = include_usage
        self._meter = AnthropicStreamUsage()
        self._id: Any = None
        self._tool_calls: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._stop_reason: Any = None
        self._done = False

    @property
    def usage(self) -> Usage | None:
        """The upstream's usage so far; cumulative `message_delta` values replace, never add."""
        return self._meter.usage()

    @property
    def usage_complete(self) -> bool:
        """Whether a `message_delta` reported the final output count."""
        return self._meter.complete

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _start(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        message = as_object(data.get("message"))
        self._id = message.get("id")
        self._model = self._model or message.get("model")
        self._meter.on_message_start(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []  # thinking opens empty; server-tool blocks have no OpenAI form
        tool_index = len(self._tool_calls)
        self._tool_calls[data.get("index", -1)] = tool_index
        # streamed tool_use starts with input {}; a complete input arrives only here
        arguments = dump_json(block["input"]) if block.get("input") else ""
        call = {
            "index": tool_index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = as_object(data.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "input_json_delta":
            tool_index = self._tool_calls.get(data.get("index", -1))
            partial = delta.get("partial_json")
            if tool_index is not None and isinstance(partial, str) and partial:
                call = {"index": tool_index, "function": {"arguments": partial}}
                return [self._chunk({"tool_calls": [call]})]
        return []  # signature and citation deltas have no OpenAI form

    def _message_delta(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            self._stop_reason = delta["stop_reason"]
        self._meter.on_message_delta(data.get("usage"))
        return []

    def _end(self) -> list[dict[str, Any]]:
        if self._done:
            return []
        self._done = True
        chunks = [self._chunk({}, openai_finish_reason(self._stop_reason))]
        usage = self._meter.usage()
        if self._include_usage and usage is not None:
            chunks.append(
                {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": openai_usage(usage),
                }
            )
        return chunks

    def feed(self, event: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One event (its `event:` name and parsed `data:`) -> the chunks it produces."""
        if self._done:
            return []
        name = event or str(data.get("type") or "")
        if name == "message_start":
            return self._start(data)
        if name == "content_block_start":
            return self._block_start(data)
        if name == "content_block_delta":
            return self._block_delta(data)
        if name == "message_delta":
            return self._message_delta(data)
        if name == "message_stop":
            return self._end()
        if name == "error":
            error = as_object(data.get("error"))
            raise UpstreamError(f"Upstream stream error: {error.get('message') or 'unknown'}")
        return []  # ping, content_block_stop and unknown events carry nothing for OpenAI

    def finish(self) -> list[dict[str, Any]]:
        """End of the upstream stream: the finish (and usage) chunks if not sent yet."""
        return self._end()


__all__ = [
    "AnthropicEvent",
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "encode_anthropic_event",
    "encode_openai_chunk",
]
