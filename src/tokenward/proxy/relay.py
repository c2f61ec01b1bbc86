"""Relay an upstream reply to the client and book exactly what it consumed.

Non-stream: call, meter, settle, then send. Stream: forward each SSE event as it
arrives; upstream is always asked for usage (`include_usage`), and the shaper
withholds the usage-only chunk from a client that did not ask for it. The last bytes
(`[DONE]`, or Anthropic's `message_stop`) are sent only after the usage event is
committed.

Capacity pools: each attempt takes a slot of its deployment's pool (when it has one)
before the upstream call, waiting by the request's tier or shed with a 429, and gives
it back when the attempt ends: the reply received, the error, or the stream's end
(drained or aborted). The tier is the key's, else `ctx.tier` (the plan's), else the
default one.

Attempts: a failed upstream call is retried on the next deployment of the plan with
backoff, but only before anything reached the client: a stream is never retried once
its first byte is out. Only the final outcome is settled, so a retry never adds a
usage event; the event records which deployment served and how many attempts it took.

Client disconnect mid-stream, by `server.on_client_disconnect`:
- `drain` (default): stop writing, keep reading the upstream to its end (bounded by
  `drain_timeout_s`) and book the provider's exact usage: the provider bills it anyway.
- `abort`: close the upstream at once and book an estimate, never below what was relayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from tokenward.clock import Clock
from tokenward.config.schema import ServerSettings
from tokenward.errors import UpstreamError
from tokenward.ledger.model import EventStatus
from tokenward.limits.pools import CapacityPools, PoolSlot
from tokenward.metering import ZERO_USAGE, Usage, estimate_usage
from tokenward.observability.metrics import Metrics
from tokenward.providers.base import UpstreamCall, UpstreamStream
from tokenward.proxy.context import ClientSink, RequestContext
from tokenward.proxy.settle import Settler
from tokenward.proxy.shapers import ReplyShaper
from tokenward.routing import Backoff, Deployment, Router

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

T = TypeVar("T")
CallFactory = Callable[[Deployment], UpstreamCall]


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
        self,
        settler: Settler,
        metrics: Metrics,
        clock: Clock,
        server: ServerSettings,
        router: Router,
        backoff: Backoff,
        pools: CapacityPools | None = None,
    ) -> None:
        self._settler = settler
        self._metrics = metrics
        self._clock = clock
        self._server = server
        self._router = router
        self._backoff = backoff
        self._pools = pools or CapacityPools()

    async def _slot(
        self,
        ctx: RequestContext,
        deployment: Deployment,
        call: UpstreamCall,
        prompt: Callable[[], int],
    ) -> PoolSlot | None:
        """A slot of the deployment's pool (None: it has none); raises 429 when shed."""
        pool = self._pools.get(deployment.name)
        if pool is None:
            return None
        tokens = 0
        if pool.spec.tokens_per_second is not None:
            body = call.body
            output = body.get("max_completion_tokens") or body.get("max_tokens") or 0
            choices = body.get("n") or 1
            if isinstance(output, int) and isinstance(choices, int):
                tokens = prompt() + output * choices
            else:
                tokens = prompt()
        principal = ctx.principal
        tier = principal.tier if principal is not None and principal.tier else ctx.tier
        return await pool.acquire(tier, tokens)

    async def _attempt(
        self,
        ctx: RequestContext,
        plan: list[Deployment],
        make_call: CallFactory,
        operation: Callable[[Deployment, UpstreamCall], Awaitable[T]],
        stream: bool,
        prompt: Callable[[], int],
    ) -> tuple[T, PoolSlot | None]:
        """Try the plan's deployments in turn; settle and raise only the final failure.

        Returns the result with the pool slot the caller must release when the
        attempt ends (a stream holds it until its last byte)."""
        for index, deployment in enumerate(plan):
            ctx.deployment, ctx.attempts = deployment, index + 1
            call = make_call(deployment)
            slot = await self._slot(ctx, deployment, call, prompt)
            try:
                result = await operation(deployment, call)
            except UpstreamError as exc:
                if slot is not None:
                    slot.release(0)
                self._router.failed(deployment)
                self._metrics.observe_upstream_error(deployment.name, exc.code)
                if not exc.retryable or index == len(plan) - 1:
                    await self._settler.settle(
                        ctx,
                        usage=ZERO_USAGE,
                        status=EventStatus.UPSTREAM_ERROR,
                        http_status=exc.status,
                        stream=stream,
                    )
                    raise
                await asyncio.sleep(self._backoff.delay(index))
            except BaseException:
                if slot is not None:
                    slot.release(0)
                raise
            else:
                self._router.succeeded(deployment)
                return result, slot
        raise RuntimeError("an attempt plan is never empty")

    async def complete(
        self,
        ctx: RequestContext,
        plan: list[Deployment],
        make_call: CallFactory,
        sink: ClientSink,
        shaper: ReplyShaper,
        prompt_estimate: Callable[[], int],
    ) -> None:
        """Non-stream: the response is sent only after its usage event is committed."""
        reply, slot = await self._attempt(
            ctx,
            plan,
            make_call,
            lambda d, call: d.provider.complete(call),
            stream=False,
            prompt=prompt_estimate,
        )
        assert ctx.deployment is not None
        parsed: Usage | None = None
        try:
            parsed = ctx.deployment.provider.parse_usage(reply.payload.get("usage"))
            usage = parsed or estimate_usage(
                prompt_tokens=prompt_estimate(), output_text=_reply_text(reply.payload)
            )
        finally:  # the upstream is done with this request: its slot frees now
            if slot is not None:
                slot.release(None if parsed is None else parsed.total_tokens)
        await self._settler.settle(
            ctx, usage=usage, status=EventStatus.OK, http_status=200, stream=False
        )
        body = shaper.body(reply, usage)
        length = (b"content-length", str(len(body)).encode())
        await sink.start(200, [*JSON_HEADERS, length, *ctx.response_headers])
        await sink.write(body, more=False)

    async def stream(
        self,
        ctx: RequestContext,
        plan: list[Deployment],
        make_call: CallFactory,
        sink: ClientSink,
        shaper: ReplyShaper,
        prompt_estimate: Callable[[], int],
    ) -> None:
        """SSE relay with exact metering and the configured disconnect policy."""
        upstream, slot = await self._attempt(
            ctx,
            plan,
            make_call,
            lambda d, call: d.provider.open_stream(call),
            stream=True,
            prompt=prompt_estimate,
        )
        tally = _StreamTally()
        try:
            await sink.start(200, [*SSE_HEADERS, *ctx.response_headers])
            abort_on_gone = self._server.on_client_disconnect == "abort"
            watcher = asyncio.ensure_future(self._close_when_gone(sink, upstream, abort_on_gone))
            try:
                await self._pump(ctx, upstream, sink, tally, shaper, abort_on_gone)
            finally:
                watcher.cancel()
                await upstream.aclose()
        finally:  # drained, aborted or failed: the upstream stream is over
            if slot is not None:
                slot.release(tally.usage.total_tokens if tally.usage is not None else None)
        await self._finish_stream(ctx, sink, tally, shaper, prompt_estimate)

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
        ctx: RequestContext,
        upstream: UpstreamStream,
        sink: ClientSink,
        tally: _StreamTally,
        shaper: ReplyShaper,
        abort_on_gone: bool,
    ) -> None:
        assert ctx.deployment is not None
        parse_usage = ctx.deployment.provider.parse_usage
        try:
            async for events in upstream:
                out: list[bytes] = []
                for payload in events:
                    if payload == b"[DONE]":
                        tally.done = True  # held back until the event is committed
                        break
                    chunk = self._meter_event(payload, tally, parse_usage)
                    framed = shaper.chunk(payload, chunk)
                    if framed is not None:
                        out.append(framed)
                    if tally.error_event:
                        break
                if out and not sink.gone:
                    # events that arrived together leave together: one write, one syscall
                    await sink.write(out[0] if len(out) == 1 else b"".join(out))
                if tally.done or tally.error_event or (abort_on_gone and sink.gone):
                    break
        except UpstreamError as exc:
            tally.failed = exc

    @staticmethod
    def _meter_event(
        payload: bytes, tally: _StreamTally, parse_usage: Callable[[object], Usage | None]
    ) -> dict[str, Any] | None:
        """Meter one event; return it parsed (None if it is not a JSON object)."""
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(chunk, dict):
            return None
        if "error" in chunk and not chunk.get("choices"):
            tally.error_event = True
            return chunk
        tally.add_choices(chunk.get("choices"))
        if chunk.get("usage") is not None:
            tally.usage = parse_usage(chunk["usage"]) or tally.usage
        return chunk

    async def _finish_stream(
        self,
        ctx: RequestContext,
        sink: ClientSink,
        tally: _StreamTally,
        shaper: ReplyShaper,
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
            await sink.write(shaper.error(tally.failed), more=False)
        elif tally.done:
            await sink.write(shaper.end(usage), more=False)
        else:
            await sink.write(b"", more=False)


__all__ = ["JSON_HEADERS", "SSE_HEADERS", "Relay"]
