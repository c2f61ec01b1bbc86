"""Reply shapers: what the client's dialect wants to see of an OpenAI-dialect reply.

Inside the gateway every upstream reply is OpenAI-shaped; the shaper renders it for
the route the client called. The relay meters first, then asks the shaper what to
send, so metering never depends on the client's dialect.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from tokenward.errors import UpstreamError
from tokenward.metering import Usage
from tokenward.providers.base import UpstreamReply
from tokenward.providers.dialects.translate import (
    OpenAIToAnthropicStream,
    encode_anthropic_event,
    openai_response_to_anthropic,
)

_DONE = b"data: [DONE]\n\n"


class ReplyShaper(Protocol):
    """Renders replies, stream chunks, the stream's end and in-band errors."""

    def body(self, reply: UpstreamReply, usage: Usage) -> bytes:
        """A complete non-stream reply."""
        ...

    def chunk(self, payload: bytes, chunk: dict[str, Any] | None) -> bytes | None:
        """The framed SSE bytes for one upstream chunk; None to withhold it."""
        ...

    def end(self, usage: Usage) -> bytes:
        """The last bytes of a complete stream, sent after its usage event is committed."""
        ...

    def error(self, exc: UpstreamError) -> bytes:
        """An in-band error for a stream that already started."""
        ...


class OpenAIShaper:
    """OpenAI clients: bytes pass through; the usage chunk only for those who asked."""

    def __init__(self, *, include_usage: bool) -> None:
        self._include_usage = include_usage

    def body(self, reply: UpstreamReply, usage: Usage) -> bytes:
        return reply.body

    def chunk(self, payload: bytes, chunk: dict[str, Any] | None) -> bytes | None:
        if chunk is not None and not self._include_usage and "usage" in chunk:
            if not chunk.get("choices"):
                return None  # the usage-only chunk the client did not ask for
            del chunk["usage"]
            payload = orjson.dumps(chunk)
        return b"data: " + payload + b"\n\n"

    def end(self, usage: Usage) -> bytes:
        return _DONE

    def error(self, exc: UpstreamError) -> bytes:
        body = {
            "error": {"message": exc.message, "type": exc.type, "code": exc.code, "param": None}
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"


class AnthropicShaper:
    """Anthropic clients: replies and streams translated to the Messages format.

    The final `message_delta` carries the metered usage (exact, or the estimate when
    the upstream gave none), so the client sees what the ledger books.
    """

    def __init__(self, *, model: str, input_estimate: int) -> None:
        self._model = model
        self._stream = OpenAIToAnthropicStream(model=model, input_tokens=input_estimate)

    def body(self, reply: UpstreamReply, usage: Usage) -> bytes:
        return orjson.dumps(
            openai_response_to_anthropic(reply.payload, model=self._model, usage=usage)
        )

    def chunk(self, payload: bytes, chunk: dict[str, Any] | None) -> bytes | None:
        if chunk is None:
            return None
        events = self._stream.feed(chunk)
        return b"".join(encode_anthropic_event(e) for e in events) or None

    def end(self, usage: Usage) -> bytes:
        return b"".join(encode_anthropic_event(e) for e in self._stream.finish(usage=usage))

    def error(self, exc: UpstreamError) -> bytes:
        data = {"type": "error", "error": {"type": "api_error", "message": exc.message}}
        return encode_anthropic_event(("error", data))


__all__ = ["AnthropicShaper", "OpenAIShaper", "ReplyShaper"]
