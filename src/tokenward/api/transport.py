"""Raw ASGI plumbing for the hot routes: body reading with a size cap, and the sink.

The proxy routes skip a framework's request/response objects on purpose: at thousands
of requests per second per core those allocations are a measurable share of our budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tokenward.errors import RequestTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def header(scope: Scope, name: bytes) -> bytes | None:
    """First value of a request header (names are lower-case in ASGI)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def api_key_of(scope: Scope) -> str | None:
    """`Authorization: Bearer <key>`, else `x-api-key` (the Anthropic convention)."""
    authorization = header(scope, b"authorization")
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None
    api_key = header(scope, b"x-api-key")
    return api_key.decode("latin-1").strip() or None if api_key is not None else None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing anything over `limit` bytes as early as possible."""
    declared = header(scope, b"content-length")
    too_large = f"Request body is larger than the limit of {limit} bytes."
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away while sending its body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(too_large)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class AsgiSink:
    """`proxy.context.ClientSink` over ASGI send/receive.

    After `start()`, a watcher task waits on `receive()` for `http.disconnect`, since
    uvicorn's `send()` silently drops writes to a gone client instead of raising.
    """

    __slots__ = ("_gone", "_receive", "_send", "_started", "_watcher")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._gone = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._started = False

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    def watch_disconnect(self) -> None:
        """Start noticing a client disconnect (streams only: it costs a task)."""
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._gone.set()
                return

    async def wait_gone(self) -> None:
        self.watch_disconnect()
        await self._gone.wait()

    async def write(self, data: bytes, *, more: bool = True) -> bool:
        if self._gone.is_set():
            return False
        if not more:
            self._stop_watching()
        await self._send({"type": "http.response.body", "body": data, "more_body": more})
        return not self._gone.is_set()

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def close(self) -> None:
        self._stop_watching()


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """A complete response in two messages, with its content-length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = [
    "AsgiSink",
    "Receive",
    "Scope",
    "Send",
    "api_key_of",
    "header",
    "read_body",
    "send_bytes",
]
