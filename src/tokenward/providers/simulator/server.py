"""The simulator as a real OpenAI-compatible (or Anthropic) HTTP upstream: a raw ASGI app.

Raw ASGI (no framework) because it is also the benchmark upstream: with no latency,
no delays and no journal, a request costs one JSON parse, one plan and one or two
`send` calls. Admin routes under ``/_sim/`` let tests read the journal and stats,
reset them, and change fault, pacing and dialect settings at run time. With the
``anthropic`` dialect it also serves ``POST /v1/messages`` (`providers.simulator.messages`),
whose errors, faults and streams are in Anthropic's format.

Client disconnects are watched on ``receive()`` while the simulator waits (latency,
chunk delays, hangs), so a closed stream is noticed within one chunk delay. An
injected "dropped connection" aborts the TCP transport when the server exposes it
(uvicorn does, through the bound ``receive``), else ends the response unfinished.
"""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from tokenward.clock import Clock, SystemClock
from tokenward.config.schema import SimulatorSettings
from tokenward.providers.simulator.dialects import ANTHROPIC
from tokenward.providers.simulator.journal import Attempt
from tokenward.providers.simulator.messages import anthropic_error, fault_reply
from tokenward.providers.simulator.messages import error_event as anthropic_error_event
from tokenward.providers.simulator.session import ChatTurn, EmbeddingTurn, SimulatorCore
from tokenward.providers.simulator.sse import error_event
from tokenward.providers.simulator.wire import SimRequestError, error_payload, models_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 8 * 1024 * 1024
MESSAGES = ("POST", "/v1/messages")
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class _Exchange:
    """One HTTP exchange: lazy disconnect watch, batched SSE writes, connection drop."""

    def __init__(self, core: SimulatorCore, receive: Receive, send: Send, attempt: Attempt) -> None:
        self.core, self.receive, self.send, self.attempt = core, receive, send, attempt
        self.watcher: asyncio.Task[float] | None = None
        self.gone = False
        #: payloads are whole SSE frames already (the Anthropic dialect's events)
        self.framed = False
        self._frames: list[bytes] = []
        self._chunks = self._tokens = 0

    async def _watch(self) -> float:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        return self.core.now()

    async def pause(self, seconds: float) -> bool:
        """Wait, watching for the client leaving; True (and journal-ready) if it left."""
        if seconds > 0:
            if self.watcher is None:
                self.watcher = asyncio.ensure_future(self._watch())
            await asyncio.wait((self.watcher,), timeout=seconds)
        if not self.gone and self.watcher is not None and self.watcher.done():
            self.gone = True
            self.attempt.client_disconnected = True
            self.attempt.disconnected_at = self.watcher.result()
        return self.gone

    def add(self, payload: bytes, tokens: int = 0, chunk: bool = False) -> None:
        """Queue one SSE event; `chunk` marks generated text (counted in the journal)."""
        self._frames.append(payload if self.framed else b"data: " + payload + b"\n\n")
        self._chunks += chunk
        self._tokens += tokens

    async def flush(self, more_body: bool = True) -> None:
        if not self._frames and more_body:
            return
        try:
            await self.send(
                {
                    "type": "http.response.body",
                    "body": b"".join(self._frames),
                    "more_body": more_body,
                }
            )
        except OSError:
            self.core.disconnected(self.attempt)
            self.gone = True
            return
        self.attempt.chunks_sent += self._chunks
        self.attempt.completion_tokens_sent += self._tokens
        self._frames, self._chunks, self._tokens = [], 0, 0

    async def respond(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        length = (b"content-length", str(len(body)).encode())
        await self.send(
            {"type": "http.response.start", "status": status, "headers": [_JSON, length, *headers]}
        )
        await self.send({"type": "http.response.body", "body": body})

    async def drop(self, started: bool) -> None:
        """Kill the connection the way a crashed upstream would (reset, no final chunk)."""
        transport = getattr(getattr(self.receive, "__self__", None), "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()
            await self.pause(0.5)  # let the server see the loss before the app returns
        elif not started:
            await self.send({"type": "http.response.start", "status": 200, "headers": [_JSON]})


class SimulatorApp:
    """ASGI callable serving the OpenAI routes and ``/_sim/*`` from one `SimulatorCore`."""

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        self.core = SimulatorCore(settings, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = (scope["method"], scope["path"].rstrip("/"))
        try:
            body = await _read_body(receive) if scope["method"] == "POST" else b""
            if route == ("POST", "/v1/chat/completions"):
                await self._chat(scope, receive, send, _parse_json(body))
            elif route == MESSAGES and self.core.settings.dialect == ANTHROPIC:
                await self._messages(scope, receive, send, body)
            elif route == ("POST", "/v1/embeddings"):
                await self._embeddings(scope, receive, send, _parse_json(body))
            else:
                query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
                status, payload = await self._admin(route, body, query)
                await _reply(send, status, orjson.dumps(payload))
        except SimRequestError as exc:
            anthropic = route == MESSAGES and self.core.settings.dialect == ANTHROPIC
            payload = anthropic_error(exc.status, exc.message) if anthropic else exc.payload()
            await _reply(send, exc.status, orjson.dumps(payload))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.core.aclose()  # flush the journal before the process ends
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _admin(
        self, route: tuple[str, str], body: bytes, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        method, path = route
        if route == ("GET", "/_sim/health"):
            return 200, {"ok": True}
        if route == ("GET", "/v1/models"):
            return 200, models_body(self.core.settings.models)
        if method == "GET" and path.startswith("/v1/models/"):
            model = path.removeprefix("/v1/models/")
            if model in self.core.settings.models:
                return 200, models_body([model])["data"][0]
            return 404, SimRequestError(
                404, f"model {model} not found", code="model_not_found"
            ).payload()
        if route == ("GET", "/_sim/journal"):
            entries = self.core.recorder.journal.entries()
            if "request_id" in query:  # ?request_id=a&request_id=b: only those attempts
                wanted = set(query["request_id"])
                entries = [e for e in entries if e["request_id"] in wanted]
            return 200, entries
        if route == ("GET", "/_sim/stats"):
            return 200, self.core.stats.snapshot()
        if route == ("POST", "/_sim/reset"):
            await self.core.recorder.reset()
            self.core.stats.reset()
            return 200, {"ok": True}
        if route == ("POST", "/_sim/config"):
            self.core.reconfigure(_parse_json(body))
            return 200, dataclasses.asdict(self.core.settings)
        return 404, error_payload(
            f"no route {method} {path}", type="invalid_request_error", code="not_found"
        )

    async def _chat(self, scope: Scope, receive: Receive, send: Send, body: Any) -> None:
        headers, request_id = _headers(scope)
        turn = self.core.chat(body, headers, request_id=request_id)
        await self._serve(turn, receive, send, request_id)

    async def _messages(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        headers, request_id = _headers(scope)
        turn = self.core.messages(body, headers, request_id=request_id)
        await self._serve(turn, receive, send, request_id)

    async def _serve(self, turn: ChatTurn, receive: Receive, send: Send, request_id: str) -> None:
        exchange = _Exchange(self.core, receive, send, turn.attempt)
        stream, tag = turn.request.stream, turn.attempt.tag
        self.core.stats.enter(stream, tag)
        try:
            if await self._lead_in(turn, exchange, request_id):
                await (
                    self._stream(turn, exchange, request_id)
                    if stream
                    else self._unary(turn, exchange, request_id)
                )
        finally:
            self.core.stats.leave(stream, tag)
            if exchange.watcher is not None:
                exchange.watcher.cancel()

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send, body: Any) -> None:
        headers, request_id = _headers(scope)
        turn = self.core.embeddings(body, headers, request_id=request_id)
        exchange = _Exchange(self.core, receive, send, turn.attempt)
        self.core.stats.enter(False, turn.attempt.tag)
        try:
            if await self._lead_in(turn, exchange, request_id):
                await self._unary(turn, exchange, request_id)
        finally:
            self.core.stats.leave(False, turn.attempt.tag)
            if exchange.watcher is not None:
                exchange.watcher.cancel()

    async def _lead_in(
        self, turn: ChatTurn | EmbeddingTurn, exchange: _Exchange, request_id: str
    ) -> bool:
        """Latency and the faults that strike before any output; False if the turn is over."""
        attempt, fault = turn.attempt, turn.fault
        if await exchange.pause(turn.pacing.latency_s):
            await self.core.finish(attempt)
            return False
        if fault == "timeout":
            client_left = await exchange.pause(turn.pacing.hang_s)
            await self.core.finish(attempt)
            if not client_left:
                await exchange.drop(started=False)
            return False
        if fault in ("error", "rate_limit", "overloaded"):
            anthropic = isinstance(turn, ChatTurn) and turn.anthropic
            attempt.status, payload, headers = fault_reply(fault, anthropic=anthropic)
            await self.core.finish(attempt)
            headers.append((b"x-request-id", request_id.encode()))
            await exchange.respond(attempt.status, payload, headers)
            return False
        return True

    async def _unary(
        self, turn: ChatTurn | EmbeddingTurn, exchange: _Exchange, request_id: str
    ) -> None:
        attempt = turn.attempt
        if turn.fault == "broken":
            await self.core.finish(attempt)
            await exchange.drop(started=False)
            return
        body = turn.body()
        attempt.status, attempt.completed = 200, True
        attempt.completion_tokens_sent = attempt.completion_tokens
        await self.core.finish(attempt)  # journaled before the client can see the usage
        await exchange.respond(200, body, [(b"x-request-id", request_id.encode())])

    async def _stream(self, turn: ChatTurn, exchange: _Exchange, request_id: str) -> None:
        attempt, plan = turn.attempt, turn.stream
        delay, cut = turn.pacing.chunk_delay_s, turn.cut
        exchange.framed = plan.framed
        attempt.status = 200
        headers = [*_SSE, (b"x-request-id", request_id.encode())]
        await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})
        for payload in plan.head:
            exchange.add(payload)
        for index, piece in enumerate(plan.pieces):
            if cut is not None and index >= cut:
                break
            if delay:
                await exchange.flush()
            if exchange.gone or await exchange.pause(delay):
                await self.core.finish(attempt)
                return
            exchange.add(piece.data, piece.tokens, chunk=True)
        if turn.fault == "broken":
            await exchange.flush()
            await self.core.finish(attempt)
            await exchange.drop(started=True)
            return
        if turn.fault == "error_event":
            await exchange.flush()
            await self.core.finish(attempt)
            message = "The simulator failed mid-stream (injected fault)."
            exchange.add(anthropic_error_event(message) if turn.anthropic else error_event(message))
            await exchange.flush(more_body=False)
            return
        for payload in plan.tail:
            exchange.add(payload)
        await exchange.flush()
        attempt.completed = not exchange.gone
        await self.core.finish(attempt)  # the oracle is durable before the usage chunk leaves
        if plan.usage is not None:
            exchange.add(plan.usage)
        for payload in plan.end:
            exchange.add(payload)
        await exchange.flush(more_body=False)


def create_simulator_app(
    settings: SimulatorSettings, *, clock: Clock | None = None
) -> SimulatorApp:
    """The ASGI app to hand to uvicorn (see `tokenward simulate`)."""
    return SimulatorApp(settings, clock or SystemClock())


async def _read_body(receive: Receive) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise SimRequestError(499, "client went away before the body was read")
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > MAX_BODY_BYTES:
            raise SimRequestError(413, "request body too large", code="request_too_large")
        if not message.get("more_body"):
            return b"".join(parts)


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SimRequestError(
            400, f"We could not parse the JSON body of your request ({exc})."
        ) from exc


def _headers(scope: Scope) -> tuple[dict[str, str], str]:
    """The ``x-sim-*`` headers and the request id (the ``x-request-id`` header, else new)."""
    found = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope["headers"]
        if name[:2].lower() == b"x-"
    }
    request_id = found.pop("x-request-id", "") or f"sim-{uuid.uuid4().hex}"
    return {k: v for k, v in found.items() if k.startswith("x-sim-")}, request_id


async def _reply(send: Send, status: int, body: bytes) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [_JSON, length]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["SimulatorApp", "create_simulator_app"]
