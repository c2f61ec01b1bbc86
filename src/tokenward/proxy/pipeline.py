"""The one place the stage order of a request lives (SPEC section 2).

    auth -> validate -> route -> guard.inspect_request -> admit (limits) -> charge
         (plan quota, credit hold) -> provider -> relay (+ guard on the response)
         -> meter -> rate + settle (event and its ledger posting in one transaction;
         limits and quota true-up) -> audit (guard decisions)

This module holds no business logic of its own, only the order and the hand-over
of the typed context. The charge stage runs after the rate limits, so a request the
limits refuse never touches the ledger; one the charge stage refuses (402, 403, an
exhausted quota) has its limiter admission cancelled: it consumes nothing.
Admission comes after routing because limits are per configured model (an alias
counts as its model), and before the upstream call, which `hold` wraps so the
reservation's lease lives as long as the call and is returned if it fails.
Inside, every route speaks the OpenAI dialect: an Anthropic request is translated on
the way in, and its reply shaped back on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenward.auth import KeyAuthenticator
from tokenward.config.schema import ServerSettings
from tokenward.errors import TokenwardError
from tokenward.limits.admission import Admission
from tokenward.metering import estimate_embedding_input_tokens, estimate_prompt_tokens
from tokenward.providers.base import UpstreamCall
from tokenward.providers.dialects import (
    parse_chat_request,
    parse_embeddings_request,
    parse_messages_request,
)
from tokenward.providers.dialects.translate import anthropic_request_to_openai
from tokenward.proxy.charging import ChargeStage, Estimate
from tokenward.proxy.context import ClientSink, RequestContext
from tokenward.proxy.guarding import GuardStage
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
        admission: Admission,
        guard: GuardStage,
        charging: ChargeStage,
        server: ServerSettings,
        default_output_tokens: int,
    ) -> None:
        self._authenticator = authenticator
        self._router = router
        self._relay = relay
        self._admission = admission
        self._guard = guard
        self._charging = charging
        self._server = server
        self._default_output = default_output_tokens

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
            max_output=request.max_output_tokens,
            choices=request.choices,
        )

    async def messages(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_messages_request(body, max_output_tokens=self._server.max_output_tokens)
        payload = anthropic_request_to_openai(request.payload)
        shaper = AnthropicShaper(
            model=request.model, input_estimate=estimate_prompt_tokens(payload["messages"])
        )
        await self._chat(
            ctx,
            payload,
            request.model,
            request.stream,
            sink,
            shaper,
            max_output=request.max_output_tokens,
            choices=1,
        )

    async def _chat(
        self,
        ctx: RequestContext,
        payload: dict[str, Any],
        model: str,
        stream: bool,
        sink: ClientSink,
        shaper: ReplyShaper,
        *,
        max_output: int | None,
        choices: int,
    ) -> None:
        ctx.model = model
        plan = self._router.plan(model)
        # 403 before anything is reserved or sent; redaction changes what is forwarded
        payload = self._guard.inspect_request(ctx, payload)
        shaper = self._guard.shape(ctx, shaper)
        messages = payload["messages"]

        def prompt_estimate() -> int:
            return estimate_prompt_tokens(messages)

        await self._charging.entitle(ctx, _names(plan[0]))
        await self._admission.admit(ctx, plan[0].model, prompt_estimate, max_output, choices)
        output = (self._default_output if max_output is None else max_output) * choices

        def estimate() -> Estimate:
            return Estimate(prompt_estimate(), output)

        if stream:
            # always ask upstream for usage: it is the only exact count of a stream
            options = payload.get("stream_options") or {}
            payload = {**payload, "stream_options": {**options, "include_usage": True}}
        make_call = self._calls("chat/completions", payload, ctx)
        relay = self._relay.stream if stream else self._relay.complete
        async with self._admission.hold(ctx), self._charging.hold(ctx):
            await self._charge(ctx, plan[0], estimate)
            await relay(ctx, plan, make_call, sink, shaper, prompt_estimate)

    async def embeddings(self, ctx: RequestContext, body: bytes, sink: ClientSink) -> None:
        ctx.principal = await self._authenticator.authenticate(ctx.api_key)
        request = parse_embeddings_request(body)
        ctx.model = request.model
        plan = self._router.plan(request.model)

        def input_estimate() -> int:
            return estimate_embedding_input_tokens(request.payload["input"])

        # embeddings produce no output tokens: the reservation is the input alone
        await self._charging.entitle(ctx, _names(plan[0]))
        await self._admission.admit(ctx, plan[0].model, input_estimate, 0)

        def estimate() -> Estimate:
            return Estimate(input_estimate(), 0)

        async with self._admission.hold(ctx), self._charging.hold(ctx):
            await self._charge(ctx, plan[0], estimate)
            await self._relay.complete(
                ctx,
                plan,
                self._calls("embeddings", request.payload, ctx),
                sink,
                OpenAIShaper(include_usage=True),
                input_estimate,
            )

    async def _charge(
        self, ctx: RequestContext, deployment: Deployment, estimate: Callable[[], Estimate]
    ) -> None:
        """The charge stage; a refusal there undoes the limits' admission entirely."""
        try:
            await self._charging.admit(ctx, _names(deployment), estimate)
        except TokenwardError:
            await self._admission.cancel(ctx)
            raise

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


def _names(deployment: Deployment) -> tuple[str, str]:
    """The names a request may be priced and entitled by: configured, then upstream."""
    return (deployment.model, deployment.upstream_model)


__all__ = ["Pipeline"]
