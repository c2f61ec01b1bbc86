"""Relay an upstream reply to the client and book exactly what it consumed.

Non-stream: call, meter, settle, then send. Stream: forward each SSE event as it
arrives; upstream is always asked for usage (`include_usage`), and the usage-only
chunk is withheld from a client that did not ask for it. The last bytes (`[DONE]`)
are sent only after the usage event is committed.

Client disconnect mid-stream, by `server.on_client_disconnect`:
- `drain` (default): stop writing, keep reading the upstream to its end (bounded by
  `drain_timeout_s`) and book the provider's exact usage: the provider bills it anyway.
- `abort`: close the upstream at once and book an estimate, never below what was relayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenward.clock import Clock
from tokenward.config.schema import ServerSettings
from tokenward.errors import UpstreamError
from tokenward.ledger.model import EventStatus
from tokenward.metering import ZERO_USAGE, Usage, estimate_usage, usage_from_openai
from tokenward.observability.metrics import Metrics
from tokenward.providers.base import UpstreamCall, UpstreamStream
from tokenward.proxy.context import ClientSink, RequestContext
from tokenward.proxy.settle import Settler

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class _StreamTally:
    """What came down one stream, for metering and for the estimate if usage never comes."""

    usage: Usage | None = None
    content_chunks: int = 0
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    done: bool = False
    failed: UpstreamError | None = None
    error_event: bool = False

    def add_choices(self, choices: Any) -> None:
        if not isinstance(choices, list):
            return
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            seen = False
            content = delta.get("content")
            if isinstance(content, str) and content:
                self.text.append(content)
                seen = True
            reasoning = delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                self.reasoning.append(reasoning)
                seen = True
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    self.text.append(str(function.get("name") or ""))
                    self.text.append(str(function.get("arguments") or ""))
                    seen = True
            if seen:
                self.content_chunks += 1


def _reply_text(payload: dict[str, Any]) -> str:
    parts: list[str] = []
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                parts.append(message["content"])
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    parts.append(str(call["function"].get("arguments") or ""))
    return " ".join(parts)


class Relay:
    """Moves bytes between upstream and client and settles each request exactly once."""

    def __init__(
        self, settler: Settler, metrics: Metrics, clock: Clock, server: ServerSettings
    ) -> None:
        self._settler = settler
        self._metrics = metrics
        self._clock = clock
        self._server = server

    async def _settle_failure(self, ctx: RequestContext, exc: UpstreamError, stream: bool) -> None:
        assert ctx.deployment is not None
        self._metrics.observe_upstream_error(ctx.deployment.name, exc.code)
        await self._settler.settle(
            ctx,
            usage=ZERO_USAGE,
            status=EventStatus.UPSTREAM_ERROR,
            http_status=exc.status,
            stream=stream,
        )

    async def complete(
        self,
        ctx: RequestContext,
        call: UpstreamCall,
        sink: ClientSink,
        prompt_estimate: Callable[[], int],
    ) -> None:
        """Non-stream: the response is sent only after its usage event is committed."""
        assert ctx.deployment is not None
        try:
            reply = await ctx.deployment.provider.complete(call)
        except UpstreamError as exc:
            await self._settle_failure(ctx, exc, stream=False)
            raise
        usage = usage_from_openai(reply.payload.get("usage")) or estimate_usage(
            prompt_tokens=prompt_estimate(), output_text=_reply_text(reply.payload)
        )
        await self._settler.settle(
            ctx, usage=usage, status=EventStatus.OK, http_status=200, stream=False
        )
        length = (b"content-length", str(len(reply.body)).encode())
        await sink.start(200, [*JSON_HEADERS, length, *ctx.response_headers])
        await sink.write(reply.body, more=False)

    async def stream(
        self,
        ctx: RequestContext,
        call: UpstreamCall,
        sink: ClientSink,
        *,
        include_usage: bool,
        prompt_estimate: Callable[[], int],
    ) -> None:
        """SSE relay with exact metering and the configured disconnect policy."""
        assert ctx.deployment is not None
        try:
            upstream = await ctx.deployment.provider.open_stream(call)
        except UpstreamError as exc:
            await self._settle_failure(ctx, exc, stream=True)
            raise
        await sink.start(200, [*SSE_HEADERS, *ctx.response_headers])
        abort_on_gone = self._server.on_client_disconnect == "abort"
        watcher = asyncio.ensure_future(self._close_when_gone(sink, upstream, abort_on_gone))
        tally = _StreamTally()
        try:
            await self._pump(upstream, sink, tally, include_usage, abort_on_gone)
        finally:
            watcher.cancel()
            await upstream.aclose()
        await self._finish_stream(ctx, sink, tally, prompt_estimate)

    async def _close_when_gone(
        self, sink: ClientSink, upstream: UpstreamStream, abort: bool
    ) -> None:
        """Abort: close the upstream as soon as the client is gone. Drain: after the cap."""
        await sink.wait_gone()
        if not abort:
            await asyncio.sleep(self._server.drain_timeout_s)
        await upstream.aclose()

    async def _pump(
        self,
        upstream: UpstreamStream,
        sink: ClientSink,
        tally: _StreamTally,
        include_usage: bool,
        abort_on_gone: bool,
    ) -> None:
        try:
            async for events in upstream:
                out: list[bytes] = []
                for payload in events:
                    if payload == b"[DONE]":
                        tally.done = True  # held back until the event is committed
                        break
                    forwarded = self._meter_event(payload, tally, include_usage)
                    if forwarded is not None:
                        out.append(b"data: " + forwarded + b"\n\n")
                    if tally.error_event:
                        break
                if out and not sink.gone:
                    # events that arrived together leave together: one write, one syscall
                    await sink.write(out[0] if len(out) == 1 else b"".join(out))
                if tally.done or tally.error_event or (abort_on_gone and sink.gone):
                    break
        except UpstreamError as exc:
            tally.failed = exc

    def _meter_event(
        self, payload: bytes, tally: _StreamTally, include_usage: bool
    ) -> bytes | None:
        """Meter one event; return what to forward (None: withhold it)."""
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload  # not ours to judge; forward untouched
        if not isinstance(chunk, dict):
            return payload
        if "error" in chunk and not chunk.get("choices"):
            tally.error_event = True
            return payload
        choices = chunk.get("choices")
        tally.add_choices(choices)
        if "usage" in chunk:
            usage = usage_from_openai(chunk["usage"])
            if usage is not None:
                tally.usage = usage
            if not include_usage:
                if not choices:
                    return None  # the usage-only chunk the client did not ask for
                del chunk["usage"]
                return orjson.dumps(chunk)
        return payload

    async def _finish_stream(
        self,
        ctx: RequestContext,
        sink: ClientSink,
        tally: _StreamTally,
        prompt_estimate: Callable[[], int],
    ) -> None:
        usage = tally.usage or estimate_usage(
            prompt_tokens=prompt_estimate(),
            output_text="".join(tally.text),
            reasoning_text="".join(tally.reasoning),
            output_chunks=tally.content_chunks,
        )
        if sink.gone:
            status = EventStatus.CLIENT_DISCONNECTED
        elif tally.failed or tally.error_event or not tally.done:
            status = EventStatus.UPSTREAM_ERROR
        else:
            status = EventStatus.OK
        if tally.failed is not None:
            assert ctx.deployment is not None
            self._metrics.observe_upstream_error(ctx.deployment.name, tally.failed.code)
        await self._settler.settle(ctx, usage=usage, status=status, http_status=200, stream=True)
        if sink.gone:
            return
        if tally.failed is not None:
            error = {
                "error": {
                    "message": tally.failed.message,
                    "type": tally.failed.type,
                    "code": tally.failed.code,
                    "param": None,
                }
            }
            await sink.write(b"data: " + orjson.dumps(error) + b"\n\n", more=False)
        elif tally.done:
            await sink.write(_DONE, more=False)
        else:
            await sink.write(b"", more=False)


__all__ = ["JSON_HEADERS", "SSE_HEADERS", "Relay"]
