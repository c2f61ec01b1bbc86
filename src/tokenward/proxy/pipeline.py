"""The one place the stage order of a request lives (SPEC section 2).

    auth -> validate -> guard.inspect_request* -> admit* -> route -> provider
         -> relay (+ guard.inspect_response*) -> meter -> rate* -> settle -> audit*

Stages marked * arrive with their issues and slot in here; this module holds no
business logic of its own, only the order and the hand-over of the typed context.
"""

from __future__ import annotations

from typing import Any

from tokenward.auth import KeyAuthenticator
from tokenward.config.schema import ServerSettings
from tokenward.metering import estimate_embedding_input_tokens, estimate_prompt_tokens
from tokenward.providers.base import UpstreamCall
from tokenward.providers.dialects import parse_chat_request, parse_embeddings_request
from tokenward.proxy.context import ClientSink, RequestContext
from tokenward.proxy.relay import Relay
from tokenward.routing import Deployment, Router


class Pipeline:
    """Composes the stages for each OpenAI-dialect route."""

    def __init__(
        self,
        *,
        authenticator: KeyAuthenticator,
        router: Router,
        relay: Relay,
        server: ServerSettings,
    ) -> None:
        self._authenticator = authenticator
        self._router = router
        self._relay = relay
        self._server = server

    async def chat_completions(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_chat_request(
            body,
            max_output_tokens=self._server.max_output_tokens,
            max_choices=self._server.max_choices,
        )
        ctx.model = request.model
        deployment = ctx.deployment = self._router.resolve(request.model)
        upstream_body: dict[str, Any] = {**request.payload, "model": deployment.upstream_model}
        messages = request.payload["messages"]
        if request.stream:
            # always ask upstream for usage: it is the only exact count of a stream
            options = request.payload.get("stream_options") or {}
            upstream_body["stream_options"] = {**options, "include_usage": True}
            await self._relay.stream(
                ctx,
                self._call("chat/completions", upstream_body, ctx, deployment),
                sink,
                include_usage=request.include_usage,
                prompt_estimate=lambda: estimate_prompt_tokens(messages),
            )
        else:
            await self._relay.complete(
                ctx,
                self._call("chat/completions", upstream_body, ctx, deployment),
                sink,
                prompt_estimate=lambda: estimate_prompt_tokens(messages),
            )

    async def embeddings(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_embeddings_request(body)
        ctx.model = request.model
        deployment = ctx.deployment = self._router.resolve(request.model)
        upstream_body = {**request.payload, "model": deployment.upstream_model}
        await self._relay.complete(
            ctx,
            self._call("embeddings", upstream_body, ctx, deployment),
            sink,
            prompt_estimate=lambda: estimate_embedding_input_tokens(request.payload["input"]),
        )

    async def models(self, ctx: RequestContext) -> list[Deployment]:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        return self._router.models()

    @staticmethod
    def _call(
        endpoint: str, body: dict[str, Any], ctx: RequestContext, deployment: Deployment
    ) -> UpstreamCall:
        return UpstreamCall(
            endpoint=endpoint, body=body, request_id=ctx.request_id, timeout_s=deployment.timeout_s
        )


__all__ = ["Pipeline"]
