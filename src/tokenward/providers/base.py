"""The `Provider` protocol: the one boundary between the gateway and an upstream.

A provider speaks its upstream's wire format and hands back OpenAI-dialect bytes.
It raises only `tokenward.errors.Upstream*` exceptions (foreign exceptions such as
aiohttp's are translated here, at the boundary, and nowhere else).

Two implementations ship: `providers.openai.OpenAIProvider` (any OpenAI-compatible
HTTP upstream) and `providers.simulator.SimulatorProvider` (offline, deterministic,
in-process) which is to `Provider` what httpx's `MockTransport` is to a transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from tokenward.metering.usage import Usage


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One call to an upstream: the OpenAI-dialect body, already pointed at the upstream model."""

    endpoint: str  # "chat/completions" | "embeddings"
    body: dict[str, Any]
    request_id: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A complete non-stream reply: the raw JSON bytes and their parsed form."""

    status: int
    body: bytes
    payload: dict[str, Any]


class UpstreamStream(Protocol):
    """An open SSE stream: iterate to get the `data:` payloads of the events that
    arrived together (one network read), so the relay can forward them in one write.

    The terminal `[DONE]` sentinel is the payload `b"[DONE]"`. Iteration raises
    `UpstreamConnectError` / `UpstreamTimeout` if the stream breaks. `aclose()` closes
    the upstream connection at once and is safe to call twice.
    """

    def __aiter__(self) -> AsyncIterator[list[bytes]]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    """An upstream deployment's adapter."""

    name: str

    def parse_usage(self, block: object) -> Usage | None:
        """The upstream's OpenAI-shaped usage block -> Usage (vendor quirks applied)."""
        ...

    async def complete(self, call: UpstreamCall) -> UpstreamReply:
        """Non-stream call; raises `UpstreamStatusError` on a non-2xx answer."""
        ...

    async def open_stream(self, call: UpstreamCall) -> UpstreamStream:
        """Start a stream; raises before returning if the upstream refused it."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...


__all__ = ["Provider", "UpstreamCall", "UpstreamReply", "UpstreamStream"]
