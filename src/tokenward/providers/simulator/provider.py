"""`SimulatorProvider`: the `Provider` protocol served in-process, no sockets.

It gives the gateway exactly what an OpenAI-compatible upstream would (the same bytes as
the HTTP simulator), and fails the way one would: injected faults surface as
`UpstreamStatusError` (500 / 429), `UpstreamTimeout`, or `UpstreamConnectError` raised
mid-iteration for a broken stream. Closing a stream early is the in-process analogue of
a client disconnect and is journaled as one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import orjson

from tokenward.clock import Clock
from tokenward.config.schema import SimulatorSettings
from tokenward.errors import UpstreamConnectError, UpstreamStatusError, UpstreamTimeout
from tokenward.metering.normalize import usage_from_openai
from tokenward.metering.usage import Usage
from tokenward.providers.base import UpstreamCall, UpstreamReply
from tokenward.providers.presets import usage_from_preset
from tokenward.providers.simulator.session import ChatTurn, EmbeddingTurn, SimulatorCore
from tokenward.providers.simulator.sse import error_event
from tokenward.providers.simulator.wire import SimRequestError

CHAT = "chat/completions"
EMBEDDINGS = "embeddings"


class SimulatorProvider:
    """Deterministic offline upstream; see `providers.simulator.engine` for its rules.

    >>> provider = SimulatorProvider("simulator", SimulatorSettings(), SystemClock())
    >>> reply = await provider.complete(UpstreamCall("chat/completions", body, "req-1", 30))
    """

    def __init__(self, name: str, settings: SimulatorSettings, clock: Clock) -> None:
        self.name = name
        self._core = SimulatorCore(settings, clock)

    @property
    def core(self) -> SimulatorCore:
        """The shared core (journal and counters), for tests and the admin surface."""
        return self._core

    def parse_usage(self, block: object) -> Usage | None:
        """The usage shape of the configured dialect's vendor (OpenAI's by default)."""
        dialect = self._core.chat_dialect
        return (
            usage_from_openai(block) if dialect == "openai" else usage_from_preset(dialect, block)
        )

    async def complete(self, call: UpstreamCall) -> UpstreamReply:
        """Non-stream call: the full reply after the latency, or the injected fault."""
        turn = self._turn(call, stream=False)
        attempt = turn.attempt
        try:
            await self._before_first_byte(turn, call.timeout_s)
            if turn.fault == "broken":
                await self._core.finish(attempt)
                raise UpstreamConnectError(f"{self.name}: connection dropped (simulated)")
            body = turn.body()
            attempt.status = 200
            attempt.completed = True
            attempt.completion_tokens_sent = attempt.completion_tokens
            await self._core.finish(attempt)
        except asyncio.CancelledError:
            self._core.disconnected(attempt)
            self._core.finish_nowait(attempt)
            raise
        return UpstreamReply(status=200, body=body, payload=orjson.loads(body))

    async def open_stream(self, call: UpstreamCall) -> SimulatorStream:
        """Start a stream; raises here for faults that happen before the first byte."""
        if call.endpoint != CHAT:
            raise UpstreamStatusError(f"{call.endpoint} cannot stream", upstream_status=400)
        turn = self._turn(call, stream=True)
        assert isinstance(turn, ChatTurn)
        try:
            await self._before_first_byte(turn, call.timeout_s)
        except asyncio.CancelledError:
            self._core.disconnected(turn.attempt)
            self._core.finish_nowait(turn.attempt)
            raise
        turn.attempt.status = 200
        return SimulatorStream(self._core, turn)

    async def aclose(self) -> None:
        """Flush the journal and stop its writer thread."""
        await self._core.aclose()

    def _turn(self, call: UpstreamCall, *, stream: bool) -> ChatTurn | EmbeddingTurn:
        try:
            if call.endpoint == CHAT:
                return self._core.chat(call.body, {}, request_id=call.request_id, stream=stream)
            if call.endpoint == EMBEDDINGS:
                return self._core.embeddings(call.body, {}, request_id=call.request_id)
        except SimRequestError as exc:
            raise UpstreamStatusError(
                f"{self.name}: {exc.message}", upstream_status=exc.status
            ) from exc
        raise UpstreamStatusError(
            f"{self.name}: unknown endpoint {call.endpoint}", upstream_status=404
        )

    async def _before_first_byte(self, turn: ChatTurn | EmbeddingTurn, timeout_s: float) -> None:
        """Latency, then the faults that strike before any output (journaled here)."""
        attempt = turn.attempt
        latency, hang = turn.pacing.latency_s, turn.pacing.hang_s
        if turn.fault == "timeout" or latency > timeout_s:
            waited = min(hang if turn.fault == "timeout" else latency, timeout_s)
            await asyncio.sleep(waited)
            if waited >= timeout_s:
                # the caller would have given up here: record it as a disconnect
                self._core.disconnected(attempt)
                await self._core.finish(attempt)
                raise UpstreamTimeout(f"{self.name}: no answer within {timeout_s:g}s (simulated)")
            await self._core.finish(attempt)
            raise UpstreamConnectError(f"{self.name}: hung {hang:g}s then closed (simulated)")
        if latency:
            await asyncio.sleep(latency)
        if turn.fault in ("error", "rate_limit", "overloaded"):
            status = {"error": 500, "rate_limit": 429}.get(turn.fault, 503)
            attempt.status = status
            await self._core.finish(attempt)
            raise UpstreamStatusError(
                f"{self.name}: simulated {turn.fault} (HTTP {status})", upstream_status=status
            )


class SimulatorStream:
    """An open simulated stream; iterate for `data:` payloads (one per batch), `[DONE]` last."""

    def __init__(self, core: SimulatorCore, turn: ChatTurn) -> None:
        self._core = core
        self._turn = turn
        self._started = False
        self._journaled = False
        self._events = self._run()

    def __aiter__(self) -> AsyncIterator[list[bytes]]:
        return self._events

    async def aclose(self) -> None:
        """Close early (a client disconnect, as the journal records it); safe to call twice."""
        if not self._started and not self._journaled:
            self._core.disconnected(self._turn.attempt)
            await self._journal()
        await self._events.aclose()

    async def _journal(self) -> None:
        if not self._journaled:
            self._journaled = True
            await self._core.finish(self._turn.attempt)

    async def _run(self) -> AsyncGenerator[list[bytes], None]:
        self._started = True
        turn, attempt, plan = self._turn, self._turn.attempt, self._turn.stream
        delay, cut = turn.pacing.chunk_delay_s, turn.cut
        try:
            for data in plan.head:
                yield [data]
            for index, piece in enumerate(plan.pieces):
                if cut is not None and index >= cut:
                    break
                if delay:
                    await asyncio.sleep(delay)
                attempt.chunks_sent += 1
                attempt.completion_tokens_sent += piece.tokens
                yield [piece.data]
            if turn.fault == "broken":
                await self._journal()
                raise UpstreamConnectError("simulated stream broken mid-way")
            if turn.fault == "error_event":
                await self._journal()
                yield [error_event("The simulator failed mid-stream (injected fault).")]
                return
            for data in plan.tail:
                yield [data]
            attempt.completed = True
            # the oracle is durable before the usage chunk can reach anyone
            await self._journal()
            if plan.usage is not None:
                yield [plan.usage]
            for data in plan.end:
                yield [data]
        finally:
            if not self._journaled:
                # closed or cancelled before the end: the consumer went away
                self._journaled = True
                self._core.disconnected(attempt)
                self._core.finish_nowait(attempt)


__all__ = ["SimulatorProvider", "SimulatorStream"]
