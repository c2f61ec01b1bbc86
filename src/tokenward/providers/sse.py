"""Server-sent events from an upstream: framing, batching per network read, errors.

Shared by every HTTP provider kind; aiohttp exceptions become `tokenward.errors`
here, at the boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from tokenward.errors import UpstreamConnectError, UpstreamTimeout


class SSEStream:
    """An open upstream SSE response, yielding the `data:` payloads of each network read."""

    def __init__(self, response: aiohttp.ClientResponse, deployment: str) -> None:
        self._response = response
        self._deployment = deployment
        self._closed = False

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()

    def __aiter__(self) -> AsyncIterator[list[bytes]]:
        return self._events()

    async def _events(self) -> AsyncIterator[list[bytes]]:
        buffer = b""
        try:
            async for chunk in self._response.content.iter_any():
                buffer += chunk
                if b"\r" in buffer:
                    buffer = buffer.replace(b"\r\n", b"\n")
                arrived: list[bytes] = []
                while True:
                    end = buffer.find(b"\n\n")
                    if end < 0:
                        break
                    event, buffer = buffer[:end], buffer[end + 2 :]
                    payload = _data_of(event)
                    if payload is not None:
                        arrived.append(payload)
                if arrived:
                    yield arrived
            payload = _data_of(buffer)
            if payload is not None:
                yield [payload]
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Upstream {self._deployment} stalled mid-stream") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            if self._closed:
                return  # we closed it ourselves (client gone, abort policy)
            raise UpstreamConnectError(
                f"Upstream {self._deployment} dropped the stream: {type(exc).__name__}"
            ) from exc
        finally:
            await self.aclose()


def _data_of(event: bytes) -> bytes | None:
    """The joined `data:` lines of one SSE event; None for comments and empty events."""
    if not event:
        return None
    if event.startswith(b"data: ") and b"\n" not in event:
        return event[6:]  # the common case: one data line
    lines = [
        line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
    ]
    return b"\n".join(lines) if lines else None


__all__ = ["SSEStream"]
