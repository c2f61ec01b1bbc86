"""The proxy routes: OpenAI /v1/chat/completions, /v1/embeddings, /v1/models, and
Anthropic /v1/messages.

Each handler turns ASGI into a `RequestContext` + body + sink, calls the pipeline,
and renders any error in the route's dialect if the response has not started yet.
"""

from __future__ import annotations

import orjson

from tokenward.api.errors import Dialect
from tokenward.api.serving import Handler, serve
from tokenward.api.transport import AsgiSink, Receive, Scope, Send, send_bytes
from tokenward.proxy import Pipeline, RequestContext
from tokenward.services import Services


async def chat_completions(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    await serve(
        services,
        scope,
        receive,
        send,
        "chat.completions",
        Dialect.OPENAI,
        lambda p, ctx, body, sink: p.chat_completions(ctx, body, sink),
    )


async def embeddings(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    await serve(
        services,
        scope,
        receive,
        send,
        "embeddings",
        Dialect.OPENAI,
        lambda p, ctx, body, sink: p.embeddings(ctx, body, sink),
    )


async def models(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    async def list_models(p: Pipeline, ctx: RequestContext, body: bytes, sink: AsgiSink) -> None:
        deployments = await p.models(ctx)
        created = int(services.clock.now().timestamp())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": d.provider.name}
            for name, d in deployments
        ]
        payload = orjson.dumps({"object": "list", "data": data})
        await send_bytes(
            send, 200, payload, [(b"content-type", b"application/json"), *ctx.response_headers]
        )

    await serve(services, scope, receive, send, "models", Dialect.OPENAI, list_models)


async def messages(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    """Anthropic's Messages API, served over the same pipeline."""
    await serve(
        services,
        scope,
        receive,
        send,
        "messages",
        Dialect.ANTHROPIC,
        lambda p, ctx, body, sink: p.messages(ctx, body, sink),
    )


#: (method, path) -> handler, looked up before any framework routing
ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/chat/completions"): chat_completions,
    ("POST", "/chat/completions"): chat_completions,
    ("POST", "/v1/embeddings"): embeddings,
    ("POST", "/embeddings"): embeddings,
    ("GET", "/v1/models"): models,
    ("GET", "/models"): models,
    ("POST", "/v1/messages"): messages,
}

__all__ = ["ROUTES"]
