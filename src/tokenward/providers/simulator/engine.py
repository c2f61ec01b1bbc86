"""Pure, deterministic rules of the simulator: the oracle other tests compute against.

Nothing here does I/O or reads a clock; the same inputs always give the same outputs.

Tokens of a text (`count_text_tokens`)
    Every CJK ideograph, kana or hangul syllable is one token; in the rest of the text,
    every match of ``\\w+`` (a run of letters/digits/underscore) or ``[^\\w\\s]`` (one
    punctuation or symbol character) is one token. Whitespace is free.

Prompt tokens of a chat request (`count_prompt_tokens`)
    ``3`` (reply primer) + for each message: ``4`` + tokens of its content (a string, or
    the sum over its parts: a ``text`` part counts its text, an ``image_url`` part counts
    ``IMAGE_TOKENS`` = 85) + tokens of its ``name`` + for each assistant ``tool_calls``
    entry the tokens of the function name and of the arguments string; plus, for each
    offered tool, the tokens of its ``function`` object as compact JSON with sorted keys.

Prompt tokens of an embeddings request
    Sum over inputs of the text tokens of a string input, or the length of a token array.
    No overhead.

Cached tokens
    ``(prompt_tokens // 64) * 32`` (half of every whole 64-token block "hits the cache").
    Cache writes, and which categories a vendor reports (bills), depend on the dialect:
    see `simulator.dialects`; an Anthropic request counts as its OpenAI translation.

Reply length (per choice)
    The natural content length is the ``sim_output_tokens`` directive, else a seeded
    choice in ``[min_output_tokens, max_output_tokens]``. Models whose name contains
    ``reasoner`` first spend reasoning tokens: the ``sim_reasoning_tokens`` directive, else
    a seeded choice in the same bounds. The cap (the smaller of ``max_tokens`` and
    ``max_completion_tokens``) is spent on reasoning first, then content; ``finish_reason`` is
    ``length`` when anything was cut, else ``stop``. Every generated word (content or
    reasoning) is exactly one token, so ``completion_tokens = reasoning + content words``.

Tool calls
    Made when ``tools`` are offered, ``tool_choice`` is not ``none`` and either the last
    message is not a ``tool`` result or ``tool_choice`` is ``required`` / names a function.
    ``sim_tool_calls`` calls (default 1) per choice; the named function, else tools in
    order from a seeded start. Arguments: the required properties of the JSON schema with
    seeded, type-correct values. Completion tokens of a call = tokens(name) +
    tokens(arguments). If they do not fit the cap, the choice falls back to a text reply
    of cap words with ``finish_reason`` ``length``.

Determinism
    Words, lengths and arguments are seeded by ``(settings.seed, request hash, choice)``;
    the request hash is over the body as canonical JSON (sorted keys) without ``stream``
    and ``stream_options``, so a streamed and a non-streamed request get the same reply
    (``metadata`` is part of it, ``x-sim-*`` headers are not). The ``chatcmpl-`` id also
    depends on the request id, so a replay with the same ``x-request-id`` is identical.

Streams
    Each choice's text is cut into generated-text chunks: one per word (per token of
    tool-call arguments) when ``chunk_count`` is 0, else exactly ``chunk_count`` chunks
    (fewer only if there are fewer words); reasoning, content and each tool call's
    arguments are cut separately, and each tool call adds one header chunk (its name).

Directives
    Body ``metadata`` keys ``sim_<name>`` or headers ``x-sim-<name-with-dashes>`` (headers
    win): output_tokens, reasoning_tokens, chunk_count, chunk_delay_ms, latency_ms,
    fault (error | rate_limit | overloaded | timeout | broken | error_event), fault_times,
    tool_calls, tag (groups ``/_sim/stats``), cache_report (0 | 1, see ``dialects``).

Faults
    A ``sim_fault`` directive applies while the request hash has been seen fewer than
    ``sim_fault_times`` times before (default: always). Otherwise a uniform draw from
    ``(seed, request hash, times seen before)`` is compared against the cumulative rates
    error, rate limit, timeout, then broken stream (streams only), so a retry of a
    failed request may succeed. Effects: ``error`` 500; ``rate_limit`` 429 with
    ``Retry-After: 1``; ``overloaded`` (directive only) 503, 529 on ``/v1/messages``;
    ``timeout`` hangs ``hang_s`` then drops the connection;
    ``broken`` sends half the generated chunks then drops it (non-stream: drops it before
    any byte); ``error_event`` sends half the chunks, then ``data: {"error": ...}`` and
    ends with no usage and no ``[DONE]`` (non-stream: as ``error``).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from tokenward.config.schema import SimulatorSettings
from tokenward.providers.simulator.vocabulary import tool_arguments, words

Fault = Literal["error", "rate_limit", "overloaded", "timeout", "broken", "error_event"]
FAULTS: tuple[str, ...] = ("error", "rate_limit", "overloaded", "timeout", "broken", "error_event")
FinishReason = Literal["stop", "length", "tool_calls"]

IMAGE_TOKENS = 85
MESSAGE_OVERHEAD = 4
REPLY_PRIMER = 3
EMBEDDING_DIMS = 256
CACHE_BLOCK = 64

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")
_ASCII_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_text_tokens(text: str) -> int:
    """Tokens of a text under the simulator's rule (see the module docstring)."""
    if text.isascii():
        return len(_ASCII_TOKEN.findall(text))
    return len(_TOKEN.findall(text))


def token_pieces(text: str) -> list[str]:
    """Split a text at token starts, so every piece holds exactly one token.

    Leading whitespace stays with the first piece; concatenating the pieces gives the text.
    """
    regex = _ASCII_TOKEN if text.isascii() else _TOKEN
    starts = [m.start() for m in regex.finditer(text)]
    if not starts:
        return [text] if text else []
    starts[0] = 0
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: the one serialisation hashes and counts use."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def request_hash(body: Mapping[str, Any]) -> str:
    """Identity of a request for seeding and fault bookkeeping (stream flags excluded)."""
    core = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    return hashlib.blake2b(canonical_json(core), digest_size=16).hexdigest()


def derive(*parts: object) -> int:
    """A 64-bit integer derived from the parts; the seed source of everything here."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def derive_id(prefix: str, *parts: object) -> str:
    """A deterministic OpenAI-looking id such as ``chatcmpl-…`` or ``call_…``."""
    return (
        prefix + hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    )


def cached_tokens_for(prompt_tokens: int) -> int:
    """Cached part of a prompt: half of every whole 64-token block."""
    return (prompt_tokens // CACHE_BLOCK) * (CACHE_BLOCK // 2)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_text_tokens(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if part.get("type") == "image_url":
                total += IMAGE_TOKENS
            else:
                total += count_text_tokens(str(part.get("text", "")))
        return total
    return 0


def count_prompt_tokens(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()
) -> int:
    """Prompt tokens of a chat request (messages already validated)."""
    total = REPLY_PRIMER
    for message in messages:
        total += MESSAGE_OVERHEAD + _content_tokens(message.get("content"))
        if isinstance(message.get("name"), str):
            total += count_text_tokens(message["name"])
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += count_text_tokens(str(function.get("name", "")))
            total += count_text_tokens(str(function.get("arguments", "")))
    for tool in tools:
        total += count_text_tokens(canonical_json(tool.get("function", {})).decode())
    return total


@dataclass(frozen=True, slots=True)
class Directives:
    """Per-request steering read from body ``metadata`` ``sim_*`` keys or ``x-sim-*`` headers."""

    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    chunk_count: int | None = None
    chunk_delay_ms: float | None = None
    latency_ms: float | None = None
    fault: Fault | None = None
    fault_times: int | None = None
    tool_calls: int | None = None
    tag: str | None = None
    cache_report: int | None = None
    #: reply with exactly this text, streamed in `reply_chunk_chars` pieces (one token each)
    reply: str | None = None
    reply_chunk_chars: int | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat completion request."""

    model: str
    messages: tuple[Mapping[str, Any], ...]
    hash: str
    n: int = 1
    max_tokens: int | None = None
    stream: bool = False
    include_usage: bool = False
    tools: tuple[Mapping[str, Any], ...] = ()
    #: "none" | "auto" | "required" | a function name
    tool_choice: str = "auto"
    directives: Directives = field(default_factory=Directives)


@dataclass(frozen=True, slots=True)
class ToolCallPlan:
    """One planned tool call of a choice."""

    id: str
    name: str
    arguments: str

    @property
    def tokens(self) -> int:
        return count_text_tokens(self.name) + count_text_tokens(self.arguments)


@dataclass(frozen=True, slots=True)
class ChoicePlan:
    """What one choice will say: reasoning words, content words or tool calls."""

    index: int
    reasoning: tuple[str, ...]
    words: tuple[str, ...]
    tool_calls: tuple[ToolCallPlan, ...]
    finish_reason: FinishReason
    #: `words` are verbatim pieces of a `sim_reply` text, joined without spaces
    verbatim: bool = False

    @property
    def text(self) -> str:
        return ("" if self.verbatim else " ").join(self.words)

    @property
    def reasoning_tokens(self) -> int:
        return len(self.reasoning)

    @property
    def completion_tokens(self) -> int:
        return len(self.reasoning) + len(self.words) + sum(c.tokens for c in self.tool_calls)


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """The whole reply to a chat request, decided before the first byte is sent."""

    completion_id: str
    model: str
    prompt_tokens: int
    choices: tuple[ChoicePlan, ...]

    @property
    def cached_tokens(self) -> int:
        return cached_tokens_for(self.prompt_tokens)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        return sum(c.reasoning_tokens for c in self.choices)

    def usage(self) -> dict[str, Any]:
        """The OpenAI ``usage`` block."""
        completion = self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def wants_tool_calls(request: ChatRequest) -> bool:
    """The tool-call rule of the module docstring."""
    if not request.tools or request.tool_choice == "none":
        return False
    if request.tool_choice != "auto":
        return True
    return request.messages[-1].get("role") != "tool"


def plan_chat(request: ChatRequest, settings: SimulatorSettings, *, request_id: str) -> ReplyPlan:
    """Decide every choice of the reply; the same request and seed give the same plan."""
    cap, steer = request.max_tokens, request.directives
    bounds = (settings.min_output_tokens, settings.max_output_tokens)
    choices = []
    for index in range(request.n):
        rng = random.Random(derive(settings.seed, request.hash, "choice", index))
        natural = rng.randint(*bounds) if steer.output_tokens is None else steer.output_tokens
        thinking = 0
        if "reasoner" in request.model:
            drawn = rng.randint(*bounds)
            thinking = drawn if steer.reasoning_tokens is None else steer.reasoning_tokens
        reasoning = words(rng, thinking if cap is None else min(thinking, cap))
        room = None if cap is None else cap - len(reasoning)
        calls: tuple[ToolCallPlan, ...] = ()
        if wants_tool_calls(request):
            calls = _plan_tool_calls(request, rng, settings.seed, index)
            if room is not None and sum(c.tokens for c in calls) > room:
                calls = ()
                natural = room + 1  # does not fit: fall back to a cut text reply
        if calls:
            choices.append(ChoicePlan(index, reasoning, (), calls, "tool_calls"))
            continue
        if steer.reply is not None:
            size = steer.reply_chunk_chars or 8
            pieces = tuple(steer.reply[i : i + size] for i in range(0, len(steer.reply), size))
            choices.append(ChoicePlan(index, reasoning, pieces, (), "stop", verbatim=True))
            continue
        content = words(rng, natural if room is None else min(natural, room))
        cut = len(content) < natural or len(reasoning) < thinking
        choices.append(ChoicePlan(index, reasoning, content, (), "length" if cut else "stop"))
    return ReplyPlan(
        completion_id=derive_id("chatcmpl-", settings.seed, request.hash, request_id),
        model=request.model,
        prompt_tokens=count_prompt_tokens(request.messages, request.tools),
        choices=tuple(choices),
    )


def _plan_tool_calls(
    request: ChatRequest, rng: random.Random, seed: int, index: int
) -> tuple[ToolCallPlan, ...]:
    functions = [t["function"] for t in request.tools]
    if request.tool_choice not in ("auto", "required"):
        functions = [f for f in functions if f["name"] == request.tool_choice]
    start = rng.randrange(len(functions))
    calls = []
    for number in range(request.directives.tool_calls or 1):
        function = functions[(start + number) % len(functions)]
        arguments = tool_arguments(function.get("parameters") or {}, rng)
        call_id = derive_id("call_", seed, request.hash, index, number)
        calls.append(ToolCallPlan(call_id, function["name"], arguments))
    return tuple(calls)


def decide_fault(
    request_key: str,
    directives: Directives,
    settings: SimulatorSettings,
    *,
    seen: int,
    stream: bool,
) -> Fault | None:
    """The fault for this attempt, if any; `seen` counts earlier sightings of the request."""
    if directives.fault is not None:
        if directives.fault_times is None or seen < directives.fault_times:
            return directives.fault
        return None
    draw = derive(settings.seed, "fault", request_key, seen) / 2**64
    for fault, rate in (
        ("error", settings.error_rate),
        ("rate_limit", settings.rate_limit_rate),
        ("timeout", settings.timeout_rate),
        ("broken", settings.broken_stream_rate if stream else 0.0),
    ):
        if draw < rate:
            return fault  # type: ignore[return-value]
        draw -= rate
    return None


__all__ = [
    "CACHE_BLOCK",
    "EMBEDDING_DIMS",
    "FAULTS",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMER",
    "ChatRequest",
    "ChoicePlan",
    "Directives",
    "Fault",
    "FinishReason",
    "ReplyPlan",
    "ToolCallPlan",
    "cached_tokens_for",
    "canonical_json",
    "count_prompt_tokens",
    "count_text_tokens",
    "decide_fault",
    "derive",
    "derive_id",
    "plan_chat",
    "request_hash",
    "token_pieces",
    "wants_tool_calls",
]
