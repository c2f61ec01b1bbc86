"""The `openai` provider kind: any OpenAI-compatible HTTP upstream.

One shared, pooled `aiohttp.ClientSession` is injected (built once in the app's
lifespan). Streams are relayed event by event as they arrive, never buffered whole.
aiohttp exceptions and upstream error bodies are translated into `tokenward.errors`
here, and nowhere else.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from tokenward.config.schema import ProviderSettings
from tokenward.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamStatusError,
    UpstreamTimeout,
)
from tokenward.metering import Usage, usage_from_openai
from tokenward.providers.base import UpstreamCall, UpstreamReply, UpstreamStream
from tokenward.providers.presets import usage_from_preset
from tokenward.providers.sse import SSEStream

#: upstream statuses that mean "your request is invalid", passed on to the client as 400
_CLIENT_FAULT_STATUSES = frozenset({400, 404, 413, 422})


def upstream_error_from_status(status: int, body: bytes, headers: Any = None) -> UpstreamError:
    """Most specific mapping wins: 429 -> rate limited, client faults -> rejected, else 502."""
    message = _error_message(body) or f"upstream answered HTTP {status}"
    if status == 429:
        retry_after = _retry_after(headers)
        return UpstreamRateLimited(
            f"Upstream rate limit: {message}", upstream_status=status, retry_after=retry_after
        )
    if status in _CLIENT_FAULT_STATUSES:
        return UpstreamRejected(f"Upstream rejected the request: {message}", upstream_status=status)
    return UpstreamStatusError(f"Upstream error (HTTP {status}): {message}", upstream_status=status)


def _error_message(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:200].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
        if isinstance(error, str):
            return error[:500]
    return None


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", 1))) if headers else 1.0
    except (TypeError, ValueError):
        return 1.0


class OpenAIProvider:
    """Adapter for an OpenAI-compatible upstream (OpenAI, DeepSeek, GLM, Qwen, vLLM...)."""

    def __init__(self, settings: ProviderSettings, session: aiohttp.ClientSession) -> None:
        self.name = settings.name
        self._settings = settings
        self._session = session
        self._base_url = settings.base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if settings.api_key:
            self._headers["Authorization"] = f"Bearer {settings.api_key}"
        self._preset = settings.preset
        self._timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = {}

    def parse_usage(self, block: object) -> Usage | None:
        """The vendor's usage block, read with its preset's field quirks."""
        if self._preset is None:
            return usage_from_openai(block)
        return usage_from_preset(self._preset, block)

    def _timeout(self, seconds: float, *, stream: bool) -> aiohttp.ClientTimeout:
        """Timeouts are few and immutable: build each once, not per request."""
        timeout = self._timeouts.get((seconds, stream))
        if timeout is None:
            connect = self._settings.connect_timeout_s
            # no total deadline for a stream: the deployment timeout bounds each read
            timeout = self._timeouts[(seconds, stream)] = (
                aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=seconds)
                if stream
                else aiohttp.ClientTimeout(total=seconds, sock_connect=connect)
            )
        return timeout

    def _request_headers(self, call: UpstreamCall) -> dict[str, str]:
        return {**self._headers, "x-request-id": call.request_id}

    async def complete(self, call: UpstreamCall) -> UpstreamReply:
        timeout = self._timeout(call.timeout_s, stream=False)
        try:
            async with self._session.post(
                f"{self._base_url}/{call.endpoint}",
                data=orjson.dumps(call.body),
                headers=self._request_headers(call),
                timeout=timeout,
            ) as response:
                body = await response.read()
                status = response.status
                headers = response.headers
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"Upstream {self.name} did not answer within {call.timeout_s:g}s"
            ) from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamConnectError(
                f"Could not reach upstream {self.name}: {type(exc).__name__}"
            ) from exc
        if status >= 400:
            raise upstream_error_from_status(status, body, headers)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamProtocolError(f"Upstream {self.name} answered with a non-JSON body")
        return UpstreamReply(status=status, body=body, payload=payload)

    async def open_stream(self, call: UpstreamCall) -> UpstreamStream:
        timeout = self._timeout(call.timeout_s, stream=True)
        try:
            response = await self._session.post(
                f"{self._base_url}/{call.endpoint}",
                data=orjson.dumps(call.body),
                headers=self._request_headers(call),
                timeout=timeout,
            )
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Upstream {self.name} did not start the stream") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamConnectError(
                f"Could not reach upstream {self.name}: {type(exc).__name__}"
            ) from exc
        if response.status >= 400:
            try:
                body = await asyncio.wait_for(response.read(), timeout=call.timeout_s)
            except (TimeoutError, aiohttp.ClientError):
                body = b""
            finally:
                response.release()
            raise upstream_error_from_status(response.status, body, response.headers)
        return SSEStream(response, self.name)

    async def aclose(self) -> None:
        """The shared session is owned and closed by the app, not by one provider."""


__all__ = ["OpenAIProvider", "upstream_error_from_status"]
