"""The ASGI application: lifespan builds `Services`; hot routes are dispatched first.

The proxy routes (`api.openai_routes.ROUTES`) are matched by a dict lookup before any
framework routing; everything else (health, metrics, admin, dashboard) goes to a
Starlette app. Every response carries `x-request-id`.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from tokenward.api.control import build_control_app
from tokenward.api.errors import Dialect, error_response
from tokenward.api.openai_routes import ROUTES
from tokenward.api.transport import Message, Receive, Scope, Send, send_bytes
from tokenward.clock import Clock
from tokenward.config import Settings, load_settings
from tokenward.services import Services

log = logging.getLogger("tokenward.app")


class Gateway:
    """The Tokenward ASGI app."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self.services: Services | None = None
        self._control: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            services = self.services
            if services is None:
                raise RuntimeError("Gateway used before its lifespan started")
            handler = ROUTES.get((scope["method"], scope["path"]))
            if handler is not None:
                await handler(services, scope, receive, send)
            else:
                await self._control_route(services, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _control_route(
        self, services: Services, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request_id = services.request_ids().encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        try:
            await self._control(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("control route %s failed", scope.get("path"))
            status, headers, body = error_response(exc, Dialect.OPENAI, request_id.decode())
            await send_bytes(send, status, body, [*headers, (b"x-request-id", request_id)])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        self.services = await Services.start(self.settings, self._clock)
        self._control = build_control_app(self.services)
        # Everything built so far lives as long as the process: move it out of the
        # collector's reach, and collect the young generation less often. Requests
        # allocate many short-lived objects; the default threshold (700) spent ~10-18%
        # of the gateway's CPU in gc under load (bench/RESULTS.md).
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)

    async def shutdown(self) -> None:
        if self.services is not None:
            await self.services.aclose()
            self.services = None


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Gateway:
    """ASGI factory (`uvicorn --factory tokenward.app:create_app`)."""
    return Gateway(settings or load_settings(), clock)


__all__ = ["Gateway", "create_app"]
