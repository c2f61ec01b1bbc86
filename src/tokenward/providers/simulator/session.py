"""The simulator's per-process core, shared by the in-process provider and the HTTP server.

It turns a request body into a `ChatTurn` / `EmbeddingTurn`: the validated request, the
reply plan, the billed usage, the fault decision, the pacing and the journal `Attempt`.
How the turn is delivered (Python iteration or an ASGI socket) is the caller's business;
what it means (tokens, faults, billing) is decided here once, so both deliveries agree.
A chat turn is rendered in one dialect: ``anthropic`` for ``/v1/messages``, else the
OpenAI-compatible vendor whose usage shape the `dialect` setting names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from tokenward.clock import Clock
from tokenward.config.schema import SimulatorSettings
from tokenward.errors import ConfigError
from tokenward.metering.usage import Usage
from tokenward.providers.simulator.dialects import (
    ANTHROPIC,
    OPENAI,
    chat_dialect,
    has_cache_control,
    shape_of,
    usage_block,
)
from tokenward.providers.simulator.embeddings import (
    EmbeddingRequest,
    embedding_tokens,
    embeddings_body,
    parse_embeddings,
)
from tokenward.providers.simulator.engine import (
    ChatRequest,
    Directives,
    Fault,
    ReplyPlan,
    decide_fault,
    plan_chat,
)
from tokenward.providers.simulator.journal import Attempt, Recorder, Stats
from tokenward.providers.simulator.messages import chat_body_of, message_body, message_stream
from tokenward.providers.simulator.sse import StreamPlan, stream_plan
from tokenward.providers.simulator.wire import SimRequestError, completion_body, parse_chat

#: settings `POST /_sim/config` may change, with the type each must have
_TUNABLE: dict[str, type[int] | type[float] | type[str]] = {
    "dialect": str,
    **dict.fromkeys(("seed", "chunk_count", "min_output_tokens", "max_output_tokens"), int),
    **dict.fromkeys(
        ("latency_ms", "chunk_delay_ms", "hang_s", "error_rate", "rate_limit_rate"), float
    ),
    **dict.fromkeys(("timeout_rate", "broken_stream_rate"), float),
}
#: faults after which nothing was generated, so nothing is billed (so is a dropped
#: non-stream reply: the client never saw a byte of it)
SILENT_FAULTS: frozenset[str] = frozenset({"error", "rate_limit", "overloaded", "timeout"})


@dataclass(slots=True)
class Pacing:
    """Time before the first byte and between generated chunks, in seconds."""

    latency_s: float
    chunk_delay_s: float
    chunk_count: int
    hang_s: float


def _pacing(settings: SimulatorSettings, directives: Directives) -> Pacing:
    latency = directives.latency_ms
    delay = directives.chunk_delay_ms
    count = directives.chunk_count
    return Pacing(
        latency_s=(settings.latency_ms if latency is None else latency) / 1000,
        chunk_delay_s=(settings.chunk_delay_ms if delay is None else delay) / 1000,
        chunk_count=settings.chunk_count if count is None else count,
        hang_s=settings.hang_s,
    )


@dataclass
class ChatTurn:
    """One chat attempt, planned: what to send, how fast, and which fault to play."""

    request: ChatRequest
    plan: ReplyPlan
    attempt: Attempt
    fault: Fault | None
    pacing: Pacing
    created: int
    #: what the upstream bills (the journal's numbers, unless a fault silenced the reply)
    usage: Usage
    #: "anthropic" (a /v1/messages turn) or the OpenAI-compatible vendor shaping `usage`
    dialect: str = OPENAI

    @property
    def anthropic(self) -> bool:
        return self.dialect == ANTHROPIC

    def usage_block(self) -> dict[str, Any]:
        """The OpenAI-shaped `usage` as this turn's vendor reports it."""
        cache_report = bool(self.request.directives.cache_report)
        return usage_block(
            self.dialect, self.usage, model=self.plan.model, cache_report=cache_report
        )

    def body(self) -> bytes:
        """The non-stream JSON body."""
        if self.anthropic:
            return orjson.dumps(message_body(self.plan, self.usage, created=self.created))
        payload = completion_body(self.plan, created=self.created, usage=self.usage_block())
        extras = shape_of(self.dialect).body_extras
        if extras is not None:
            payload.update(extras())
        return orjson.dumps(payload)

    @cached_property
    def stream(self) -> StreamPlan:
        """Every stream payload, rendered once."""
        if self.anthropic:
            return message_stream(
                self.plan, self.usage, created=self.created, chunk_count=self.pacing.chunk_count
            )
        include_usage = self.request.include_usage
        return stream_plan(
            self.plan,
            created=self.created,
            chunk_count=self.pacing.chunk_count,
            include_usage=include_usage,
            usage=self.usage_block() if include_usage else None,
        )

    @property
    def cut(self) -> int | None:
        """Generated chunks to send before a ``broken`` / ``error_event`` fault strikes."""
        if self.fault in ("broken", "error_event"):
            return len(self.stream.pieces) // 2
        return None


@dataclass(slots=True)
class EmbeddingTurn:
    """One embeddings attempt, planned."""

    request: EmbeddingRequest
    attempt: Attempt
    fault: Fault | None
    pacing: Pacing
    seed: int

    def body(self) -> bytes:
        payload = embeddings_body(
            self.request, seed=self.seed, prompt_tokens=self.attempt.prompt_tokens
        )
        return orjson.dumps(payload)


class SimulatorCore:
    """Settings (replaceable at run time), clock and recorder of one simulator instance."""

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.recorder = Recorder(settings.journal_path)
        self.stats = Stats()

    def now(self) -> float:
        return self.clock.now().timestamp()

    @property
    def chat_dialect(self) -> str:
        """The vendor whose usage shape ``/v1/chat/completions`` replies carry."""
        return chat_dialect(self.settings.dialect)

    def chat(
        self, body: Any, headers: Mapping[str, str], *, request_id: str, stream: bool | None = None
    ) -> ChatTurn:
        """Validate and plan a chat request; raises `SimRequestError`.

        `stream` forces the delivery mode (the provider knows it from the method called).
        """
        if stream is not None and isinstance(body, dict) and bool(body.get("stream")) != stream:
            body = {k: v for k, v in body.items() if k != "stream_options" or stream}
            body["stream"] = stream
        request = parse_chat(body, self.settings.models, headers)
        dialect = self.chat_dialect
        marked = shape_of(dialect).cache_write and has_cache_control(body)
        return self._chat_turn(request, dialect, marked, "chat/completions", request_id)

    def messages(self, raw: bytes, headers: Mapping[str, str], *, request_id: str) -> ChatTurn:
        """Validate and plan an Anthropic Messages request; raises `SimRequestError`."""
        body, marked = chat_body_of(raw)
        request = parse_chat(body, self.settings.models, headers)
        return self._chat_turn(request, ANTHROPIC, marked, "messages", request_id)

    def _chat_turn(
        self, request: ChatRequest, dialect: str, marked: bool, endpoint: str, request_id: str
    ) -> ChatTurn:
        settings = self.settings
        plan = plan_chat(request, settings, request_id=request_id)
        seen = self.recorder.sighting(request.hash)
        fault = decide_fault(
            request.hash, request.directives, settings, seen=seen, stream=request.stream
        )
        if fault == "error_event" and not request.stream:
            fault = "error"  # no event stream to carry it: a plain 500
        usage = shape_of(dialect).billed(
            plan, marked=marked, cache_report=bool(request.directives.cache_report)
        )
        attempt = self._attempt(endpoint, request.model, request_id, request.stream)
        attempt.dialect = dialect
        attempt.include_usage = request.include_usage
        attempt.fault = fault
        attempt.tag = request.directives.tag
        attempt.prompt_tokens = usage.input_tokens
        attempt.cached_tokens = usage.cached_input_tokens
        attempt.cache_write_tokens = usage.cache_write_tokens
        silent = fault in SILENT_FAULTS or (fault == "broken" and not request.stream)
        if not silent:
            attempt.completion_tokens = usage.output_tokens
            attempt.reasoning_tokens = usage.reasoning_tokens
        turn = ChatTurn(
            request=request,
            plan=plan,
            attempt=attempt,
            fault=fault,
            pacing=_pacing(settings, request.directives),
            created=int(self.now()),
            usage=usage,
            dialect=dialect,
        )
        if request.stream and not silent:
            attempt.chunks_planned = len(turn.stream.pieces)
        return turn

    def embeddings(
        self, body: Any, headers: Mapping[str, str], *, request_id: str
    ) -> EmbeddingTurn:
        """Validate and plan an embeddings request; raises `SimRequestError`."""
        settings = self.settings
        request = parse_embeddings(body, settings.models, headers)
        seen = self.recorder.sighting(request.hash)
        fault = decide_fault(request.hash, request.directives, settings, seen=seen, stream=False)
        if fault == "error_event":
            fault = "error"
        attempt = self._attempt("embeddings", request.model, request_id, False)
        attempt.fault = fault
        attempt.tag = request.directives.tag
        attempt.prompt_tokens = embedding_tokens(request.inputs)
        return EmbeddingTurn(
            request=request,
            attempt=attempt,
            fault=fault,
            pacing=_pacing(settings, request.directives),
            seed=settings.seed,
        )

    def _attempt(self, endpoint: str, model: str, request_id: str, stream: bool) -> Attempt:
        return Attempt(
            request_id=request_id,
            attempt=self.recorder.attempt(request_id),
            endpoint=endpoint,
            model=model,
            stream=stream,
            started_at=self.now(),
        )

    def disconnected(self, attempt: Attempt) -> None:
        """Mark the client gone (now) unless the attempt already ended."""
        if not attempt.client_disconnected:
            attempt.client_disconnected = True
            attempt.disconnected_at = self.now()

    async def finish(self, attempt: Attempt) -> None:
        """Journal the attempt and wait until it is durable."""
        await self.recorder.journal.write(attempt.entry(self.now()))

    def finish_nowait(self, attempt: Attempt) -> None:
        """Journal the attempt without waiting (cancellation and generator clean-up paths)."""
        self.recorder.journal.submit(attempt.entry(self.now()))

    def reconfigure(self, patch: Any) -> SimulatorSettings:
        """Apply a run-time patch of fault, pacing and dialect settings (`SimRequestError`)."""
        if not isinstance(patch, dict):
            raise SimRequestError(400, "config patch must be a JSON object")
        for key, value in patch.items():
            kind = _TUNABLE.get(key)
            if kind is None:
                raise SimRequestError(400, f"{key} cannot be changed at run time", param=key)
            if kind is str:
                if not isinstance(value, str):
                    raise SimRequestError(400, f"{key} must be a string", param=key)
            elif isinstance(value, bool) or not isinstance(value, kind | int):
                raise SimRequestError(400, f"{key} must be a number ({kind.__name__})", param=key)
        try:
            changes: dict[str, Any] = {k: _TUNABLE[k](v) for k, v in patch.items()}
            self.settings = dataclasses.replace(self.settings, **changes)
        except ConfigError as exc:
            raise SimRequestError(400, exc.message) from exc
        return self.settings

    async def aclose(self) -> None:
        await self.recorder.journal.aclose()


__all__ = ["SILENT_FAULTS", "ChatTurn", "EmbeddingTurn", "Pacing", "SimulatorCore"]
