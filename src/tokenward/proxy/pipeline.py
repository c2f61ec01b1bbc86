"""The one place the stage order of a request lives (SPEC section 2).

    auth -> validate -> guard.inspect_request* -> admit* -> route -> provider
         -> relay (+ guard.inspect_response*) -> meter -> rate* -> settle -> audit*

Stages marked * arrive with their issues and slot in here; this module holds no
business logic of its own, only the order and the hand-over of the typed context.
Inside, every route speaks the OpenAI dialect: an Anthropic request is translated on
the way in, and its reply shaped back on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenward.auth import KeyAuthenticator
from tokenward.config.schema import ServerSettings
from tokenward.metering import estimate_embedding_input_tokens, estimate_prompt_tokens
from tokenward.providers.base import UpstreamCall
from tokenward.providers.dialects import (
    parse_chat_request,
    parse_embeddings_request,
    parse_messages_request,
)
from tokenward.providers.dialects.translate import anthropic_request_to_openai
from tokenward.proxy.context import ClientSink, RequestContext
from tokenward.proxy.relay import Relay
from tokenward.proxy.shapers import AnthropicShaper, OpenAIShaper, ReplyShaper
from tokenward.routing import Deployment, Router


class Pipeline:
    """Composes the stages for each route."""

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
        await self._chat(
            ctx,
            request.payload,
            request.model,
            request.stream,
            sink,
            OpenAIShaper(include_usage=request.include_usage),
        )

    async def messages(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_messages_request(body, max_output_tokens=self._server.max_output_tokens)
        payload = anthropic_request_to_openai(request.payload)
        shaper = AnthropicShaper(
            model=request.model, input_estimate=estimate_prompt_tokens(payload["messages"])
        )
        await self._chat(ctx, payload, request.model, request.stream, sink, shaper)

    async def _chat(
        self,
        ctx: RequestContext,
        payload: dict[str, Any],
        model: str,
        stream: bool,
        sink: ClientSink,
        shaper: ReplyShaper,
    ) -> None:
        ctx.model = model
        plan = self._router.plan(model)
        messages = payload["messages"]
        if stream:
            # always ask upstream for usage: it is the only exact count of a stream
            options = payload.get("stream_options") or {}
            payload = {**payload, "stream_options": {**options, "include_usage": True}}
        make_call = self._calls("chat/completions", payload, ctx)
        relay = self._relay.stream if stream else self._relay.complete
        await relay(ctx, plan, make_call, sink, shaper, lambda: estimate_prompt_tokens(messages))

    async def embeddings(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_embeddings_request(body)
        ctx.model = request.model
        plan = self._router.plan(request.model)
        await self._relay.complete(
            ctx,
            plan,
            self._calls("embeddings", request.payload, ctx),
            sink,
            OpenAIShaper(include_usage=True),
            lambda: estimate_embedding_input_tokens(request.payload["input"]),
        )

    async def models(self, ctx: RequestContext) -> list[tuple[str, Deployment]]:
        """The models the caller's key may use (every configured model and alias)."""
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        return self._router.models()

    @staticmethod
    def _calls(
        endpoint: str, payload: dict[str, Any], ctx: RequestContext
    ) -> Callable[[Deployment], UpstreamCall]:
        def make_call(deployment: Deployment) -> UpstreamCall:
            return UpstreamCall(
                endpoint=endpoint,
                body={**payload, "model": deployment.upstream_model},
                request_id=ctx.request_id,
                timeout_s=deployment.timeout_s,
            )

        return make_call


__all__ = ["Pipeline"]
