"""The frame around every proxy route: context, body, pipeline stage, error rendering.

A handler turns ASGI into a `RequestContext` + body + sink and calls one pipeline
stage; any error becomes the route's error dialect if the response has not started
(a stream under way reports errors in-band), and every request is counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from tokenward.api.errors import Dialect, error_response
from tokenward.api.transport import (
    AsgiSink,
    Receive,
    Scope,
    Send,
    api_key_of,
    read_body,
    send_bytes,
)
from tokenward.errors import TokenwardError
from tokenward.proxy import Pipeline, RequestContext
from tokenward.services import Services

log = logging.getLogger("tokenward.api")


async def serve(
    services: Services,
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    dialect: Dialect,
    stage: Callable[[Pipeline, RequestContext, bytes, AsgiSink], Awaitable[None]],
) -> None:
    ctx = RequestContext(
        request_id=services.request_ids(),
        route=route,
        started_at=services.clock.now(),
        started_mono=services.clock.monotonic(),
        api_key=api_key_of(scope),
    )
    ctx.response_headers.append((b"x-request-id", ctx.request_id.encode()))
    sink = AsgiSink(receive, send)
    status = 200
    try:
        body = await read_body(scope, receive, services.settings.server.max_body_bytes)
        await stage(services.pipeline, ctx, body, sink)
    except ConnectionResetError:
        status = 499  # client left before sending its body: nothing to answer, nothing billed
    except Exception as exc:  # noqa: BLE001 - the outermost handler: a clean error, never a traceback
        status = await _fail(exc, ctx, sink, send, dialect)
    finally:
        sink.close()
        services.metrics.observe_request(
            route, ctx.model or "-", status, services.clock.monotonic() - ctx.started_mono
        )


async def _fail(
    exc: Exception, ctx: RequestContext, sink: AsgiSink, send: Send, dialect: Dialect
) -> int:
    if not isinstance(exc, TokenwardError):
        log.exception("request %s failed", ctx.request_id)
    if sink.started:
        return 200  # a stream already under way reports errors in-band
    status, headers, body = error_response(exc, dialect, ctx.request_id)
    await send_bytes(send, status, body, [*headers, *ctx.response_headers])
    return status


Handler = Callable[[Services, Scope, Receive, Send], Awaitable[None]]

__all__ = ["Handler", "serve"]
