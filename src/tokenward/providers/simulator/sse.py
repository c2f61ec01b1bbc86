"""Server-sent events of a chat reply, rendered once before the first byte.

Order: one role chunk per choice, the generated-text chunks (reasoning, content or tool
calls; choices interleaved round-robin; these are the paced, counted "chunks"), one
finish chunk per choice, then the usage chunk (only with ``include_usage``, when every
earlier chunk carries ``"usage": null``) and ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tokenward.providers.simulator.engine import (
    ChoicePlan,
    ReplyPlan,
    count_text_tokens,
    token_pieces,
)
from tokenward.providers.simulator.wire import SYSTEM_FINGERPRINT, error_payload


@dataclass(frozen=True, slots=True)
class Piece:
    """One generated-text chunk payload and the output tokens it carries."""

    data: bytes
    tokens: int


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Payloads of a stream in order: head, text pieces (paced), tail, usage, then end.

    OpenAI payloads are bare JSON (the sender adds ``data: ``); `framed` plans (the
    Anthropic dialect) hold whole ``event: ...`` frames.
    """

    head: tuple[bytes, ...]
    pieces: tuple[Piece, ...]
    tail: tuple[bytes, ...]
    usage: bytes | None
    end: tuple[bytes, ...] = (b"[DONE]",)
    framed: bool = False

    @property
    def planned_tokens(self) -> int:
        return sum(p.tokens for p in self.pieces)


_CONTENT = b'{"content":'
_REASONING = b'{"content":null,"reasoning_content":'
_OPEN_END = b'},"logprobs":null,"finish_reason":null}]'


class _Render:
    """Splices each delta into pre-serialised chunk bytes (the stream's hot path)."""

    def __init__(self, plan: ReplyPlan, created: int, include_usage: bool) -> None:
        base = {
            "id": plan.completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": plan.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        self.base = base
        self.prefix = orjson.dumps(base)[:-1] + b',"choices":[{"index":'
        self.suffix = b',"usage":null}' if include_usage else b"}"

    def text(self, index: int, opening: bytes, text: str) -> bytes:
        """A text delta without building a dict: `opening` is e.g. ``{"content":``."""
        return (
            b"".join(
                (self.prefix, b"%d" % index, b',"delta":', opening, orjson.dumps(text), _OPEN_END)
            )
            + self.suffix
        )

    def __call__(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return b"".join(
            (
                self.prefix,
                str(index).encode(),
                b',"delta":',
                orjson.dumps(delta),
                b',"logprobs":null,"finish_reason":',
                orjson.dumps(finish),
                b"}]",
                self.suffix,
            )
        )


def stream_plan(
    plan: ReplyPlan,
    *,
    created: int,
    chunk_count: int,
    include_usage: bool,
    usage: Mapping[str, Any] | None = None,
) -> StreamPlan:
    """Every `chat.completion.chunk` payload of the reply, pre-rendered.

    `usage` is the final chunk's block in the dialect's shape (default: OpenAI's).
    """
    render = _Render(plan, created, include_usage)
    head = tuple(
        render(c.index, {"role": "assistant", "content": None if c.tool_calls else ""})
        for c in plan.choices
    )
    rows = [_choice_pieces(c, chunk_count, render) for c in plan.choices]
    # n > 1: choices interleave round-robin, as a real model's parallel samples do
    pieces = rows[0] if len(rows) == 1 else [p for row in _round_robin(rows) for p in row]
    tail = tuple(render(c.index, {}, c.finish_reason) for c in plan.choices)
    usage_chunk = None
    if include_usage:
        block = plan.usage() if usage is None else usage
        usage_chunk = orjson.dumps({**render.base, "choices": [], "usage": block})
    return StreamPlan(head, tuple(pieces), tail, usage_chunk)


def _choice_pieces(choice: ChoicePlan, chunk_count: int, render: _Render) -> list[Piece]:
    def spaced(words: Sequence[str]) -> list[str]:
        if choice.verbatim:
            return list(words)
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    out = [
        Piece(render.text(choice.index, _REASONING, text), len(text.split()))
        for text in split_even(spaced(choice.reasoning), chunk_count)
    ]
    out += [
        Piece(
            render.text(choice.index, _CONTENT, text), 1 if choice.verbatim else len(text.split())
        )
        # a verbatim reply keeps its own pieces: one chunk and one token each
        for text in split_even(spaced(choice.words), 0 if choice.verbatim else chunk_count)
    ]
    for k, call in enumerate(choice.tool_calls):
        header = {"index": k, "id": call.id, "type": "function"}
        header["function"] = {"name": call.name, "arguments": ""}
        out.append(
            Piece(render(choice.index, {"tool_calls": [header]}), count_text_tokens(call.name))
        )
        for text in split_even(token_pieces(call.arguments), chunk_count):
            delta = {"tool_calls": [{"index": k, "function": {"arguments": text}}]}
            out.append(Piece(render(choice.index, delta), count_text_tokens(text)))
    return out


def _round_robin(rows: list[list[Piece]]) -> list[list[Piece]]:
    longest = max((len(r) for r in rows), default=0)
    return [[r[i] for r in rows if i < len(r)] for i in range(longest)]


def split_even(pieces: Sequence[str], count: int) -> list[str]:
    """Join pieces into `count` contiguous chunks (0: one chunk per piece)."""
    if count <= 0 or len(pieces) <= count:
        return list(pieces)
    size, extra = divmod(len(pieces), count)
    chunks, at = [], 0
    for number in range(count):
        step = size + (1 if number < extra else 0)
        chunks.append("".join(pieces[at : at + step]))
        at += step
    return chunks


def error_event(message: str) -> bytes:
    """A mid-stream error payload, as OpenAI sends when generation fails after 200 OK."""
    return orjson.dumps(error_payload(message, type="server_error", code="sim_stream_error"))


__all__ = ["Piece", "StreamPlan", "error_event", "split_even", "stream_plan"]
