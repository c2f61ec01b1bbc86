"""The `anthropic` provider kind: Anthropic's native Messages API behind the OpenAI dialect.

The gateway speaks OpenAI inside (every provider takes and returns the OpenAI dialect),
so this adapter translates the request to a Messages body, posts it with `x-api-key`
and `anthropic-version`, and translates the reply (or the SSE stream, event by event)
back. Anthropic's streamed `message_delta` usage is cumulative: the translator books
the last value, never the sum.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tokenward.config.schema import ProviderSettings
from tokenward.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from tokenward.metering import Usage, usage_from_openai
from tokenward.providers.base import UpstreamCall, UpstreamReply, UpstreamStream
from tokenward.providers.dialects.translate import (
    AnthropicToOpenAIStream,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from tokenward.providers.openai import upstream_error_from_status
from tokenward.providers.sse import SSEStream


class _TranslatedStream:
    """Anthropic SSE in, OpenAI chunk payloads out (usage chunk always, then `[DONE]`)."""

    def __init__(self, events: SSEStream, model: str) -> None:
        self._events = events
        self._translator = AnthropicToOpenAIStream(
            created=int(time.time()), model=model, include_usage=True
        )

    def __aiter__(self) -> AsyncIterator[list[bytes]]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[list[bytes]]:
        async for batch in self._events:
            out: list[bytes] = []
            for payload in batch:
                try:
                    data = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise UpstreamProtocolError(
                        "Anthropic upstream sent a malformed event"
                    ) from None
                if isinstance(data, dict):
                    out.extend(orjson.dumps(c) for c in self._translator.feed("", data))
            if out:
                yield out
        tail = [orjson.dumps(c) for c in self._translator.finish()]
        yield [*tail, b"[DONE]"]

    async def aclose(self) -> None:
        await self._events.aclose()


class AnthropicProvider:
    """Adapter for api.anthropic.com or any Messages-compatible upstream."""

    def __init__(self, settings: ProviderSettings, session: aiohttp.ClientSession) -> None:
        self.name = settings.name
        self._settings = settings
        self._session = session
        self._url = settings.base_url.rstrip("/") + "/messages"
        self._headers = {
            "Content-Type": "application/json",
            "anthropic-version": settings.anthropic_version,
        }
        if settings.api_key:
            self._headers["x-api-key"] = settings.api_key

    def parse_usage(self, block: object) -> Usage | None:
        """Replies are translated to the OpenAI shape before the relay meters them."""
        return usage_from_openai(block)

    def _body(self, call: UpstreamCall, stream: bool) -> bytes:
        body = openai_request_to_anthropic(
            call.body, default_max_tokens=self._settings.default_max_tokens
        )
        body["stream"] = stream
        return orjson.dumps(body)

    async def _post(self, call: UpstreamCall, stream: bool) -> aiohttp.ClientResponse:
        if call.endpoint != "chat/completions":
            raise UpstreamProtocolError(
                f"Anthropic upstream {self.name} does not serve {call.endpoint}"
            )
        timeout = aiohttp.ClientTimeout(
            total=None if stream else call.timeout_s,
            sock_connect=self._settings.connect_timeout_s,
            sock_read=call.timeout_s if stream else None,
        )
        headers = {**self._headers, "x-request-id": call.request_id}
        try:
            response = await self._session.post(
                self._url, data=self._body(call, stream), headers=headers, timeout=timeout
            )
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Upstream {self.name} did not answer in time") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamConnectError(
                f"Could not reach upstream {self.name}: {type(exc).__name__}"
            ) from exc
        if response.status >= 400:
            try:
                body = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                body = b""
            finally:
                response.release()
            raise upstream_error_from_status(response.status, body, response.headers)
        return response

    async def complete(self, call: UpstreamCall) -> UpstreamReply:
        response = await self._post(call, stream=False)
        try:
            raw = await response.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Upstream {self.name} did not finish in time") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamConnectError(f"Upstream {self.name} dropped the reply") from exc
        finally:
            response.release()
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise UpstreamProtocolError(f"Upstream {self.name} answered with a non-message body")
        try:
            payload = anthropic_response_to_openai(
                message, created=int(time.time()), model=str(call.body.get("model") or "")
            )
        except (UpstreamError, ValueError, TypeError) as exc:
            raise UpstreamProtocolError(f"Upstream {self.name}: untranslatable reply") from exc
        return UpstreamReply(status=200, body=orjson.dumps(payload), payload=payload)

    async def open_stream(self, call: UpstreamCall) -> UpstreamStream:
        response = await self._post(call, stream=True)
        return _TranslatedStream(SSEStream(response, self.name), str(call.body.get("model") or ""))

    async def aclose(self) -> None:
        """The shared session is owned and closed by the app."""


__all__ = ["AnthropicProvider"]
