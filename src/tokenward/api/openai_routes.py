"""OpenAI-compatible routes: /v1/chat/completions, /v1/embeddings, /v1/models.

Each handler turns ASGI into a `RequestContext` + body + sink, calls the pipeline,
and renders any error in the OpenAI dialect if the response has not started yet.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson

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

Handler = Callable[[Services, Scope, Receive, Send], Awaitable[None]]


async def _serve(
    services: Services,
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
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
        status = await _fail(exc, ctx, sink, send)
    finally:
        sink.close()
        services.metrics.observe_request(
            route, ctx.model or "-", status, services.clock.monotonic() - ctx.started_mono
        )


async def _fail(exc: Exception, ctx: RequestContext, sink: AsgiSink, send: Send) -> int:
    if not isinstance(exc, TokenwardError):
        log.exception("request %s failed", ctx.request_id)
    if sink.started:
        return 200  # a stream already under way reports errors in-band
    status, headers, body = error_response(exc, Dialect.OPENAI, ctx.request_id)
    await send_bytes(send, status, body, [*headers, *ctx.response_headers])
    return status


async def chat_completions(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    await _serve(
        services,
        scope,
        receive,
        send,
        "chat.completions",
        lambda p, ctx, body, sink: p.chat_completions(ctx, body, sink),
    )


async def embeddings(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    await _serve(
        services,
        scope,
        receive,
        send,
        "embeddings",
        lambda p, ctx, body, sink: p.embeddings(ctx, body, sink),
    )


async def models(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    async def list_models(p: Pipeline, ctx: RequestContext, body: bytes, sink: AsgiSink) -> None:
        deployments = await p.models(ctx)
        created = int(services.clock.now().timestamp())
        data = [
            {"id": d.model, "object": "model", "created": created, "owned_by": d.provider.name}
            for d in deployments
        ]
        payload = orjson.dumps({"object": "list", "data": data})
        await send_bytes(
            send, 200, payload, [(b"content-type", b"application/json"), *ctx.response_headers]
        )

    await _serve(services, scope, receive, send, "models", list_models)


#: (method, path) -> handler, looked up before any framework routing
ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/chat/completions"): chat_completions,
    ("POST", "/chat/completions"): chat_completions,
    ("POST", "/v1/embeddings"): embeddings,
    ("POST", "/embeddings"): embeddings,
    ("GET", "/v1/models"): models,
    ("GET", "/models"): models,
}

__all__ = ["ROUTES"]
