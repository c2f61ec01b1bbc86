"""The vendor dialects the simulator imitates: which usage categories each reports, and how.

The simulator's `dialect` setting names a `providers.presets` preset. ``anthropic``
serves the Messages API on ``/v1/messages`` (see `providers.simulator.messages`) and
plain OpenAI replies on ``/v1/chat/completions``; an OpenAI-compatible vendor
(deepseek, zhipu, qwen, doubao, minimax, vllm, sglang, ollama, openai) shapes the
``usage`` of every chat reply, non-stream and in the final stream chunk, the way that
vendor documents it (see ``tests/providers/fixtures``). Each shape is checked by
reading it back with `presets.usage_from_preset`, the gateway's own reader.

Billed usage (the journal's oracle)
    The engine decides prompt, cached, completion and reasoning tokens once, whatever
    the dialect. A vendor bills only the categories it reports: one that reports no
    cache hits bills them as plain input (``cached_tokens`` 0 in the journal), one
    that reports no reasoning bills it as plain output (``reasoning_tokens`` 0).
    vLLM and SGLang report cache hits only when started with
    ``--enable-prompt-tokens-details`` / ``--enable-cache-report``; the simulator does
    so for a request with the ``cache_report`` directive (``x-sim-cache-report: 1``),
    else they send ``"prompt_tokens_details": null``.

Cache writes
    Vendors that bill explicit cache writes (anthropic, qwen) write the cache when the
    request marks any block, message part or tool with ``cache_control``:
    ``cache_write_tokens = (prompt_tokens // 64) * 16``, a quarter of every whole
    64-token block, next to the half that is read (so read + write never exceed the
    prompt, and the two counts differ, which catches a swapped field). Unmarked
    requests, and every other vendor, write nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from tokenward.metering.usage import Usage
from tokenward.providers.simulator.engine import CACHE_BLOCK, ReplyPlan

ANTHROPIC = "anthropic"
OPENAI = "openai"
#: share of every whole cache block written on a marked request (see the docstring)
CACHE_WRITE_PER_BLOCK = CACHE_BLOCK // 4

#: (billed usage, model, cache_report directive) -> the vendor's `usage` block
UsageRenderer = Callable[[Usage, str, bool], dict[str, Any]]
#: when a vendor reports cache reads: "on_request" means with the cache_report directive
CacheReporting = Literal["always", "never", "on_request"]


def cache_write_tokens_for(prompt_tokens: int) -> int:
    """Cache-write part of a marked prompt: a quarter of every whole 64-token block."""
    return (prompt_tokens // CACHE_BLOCK) * CACHE_WRITE_PER_BLOCK


def has_cache_control(value: Any) -> bool:
    """Whether any object inside `value` carries a ``cache_control`` key."""
    if isinstance(value, dict):
        return "cache_control" in value or any(has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(has_cache_control(v) for v in value)
    return False


def _reasoner(model: str) -> bool:
    return "reasoner" in model


def _counts(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _openai(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    return {
        **_counts(usage),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _deepseek(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    hit = usage.cached_input_tokens
    block = {
        **_counts(usage),
        "prompt_tokens_details": {"cached_tokens": hit},
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": usage.input_tokens - hit,
    }
    if _reasoner(model):  # deepseek-chat replies carry no completion details
        block["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return block


def _cached_and_thinking(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    """Zhipu GLM: cache hits always, a reasoning count from thinking models."""
    block = {
        **_counts(usage),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
    }
    if _reasoner(model):
        block["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return block


def _qwen(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    block = _cached_and_thinking(usage, model, cache_report)
    if usage.cache_write_tokens:  # DashScope's explicit-cache fields
        block["prompt_tokens_details"].update(
            cache_creation_input_tokens=usage.cache_write_tokens,
            cache_type="ephemeral",
            cache_creation={"ephemeral_5m_input_tokens": usage.cache_write_tokens},
        )
    return block


def _doubao(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    return {
        **_counts(usage),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _minimax(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    return {
        "total_tokens": usage.total_tokens,
        "total_characters": 0,
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _vllm(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    details = {"cached_tokens": usage.cached_input_tokens} if cache_report else None
    return {**_counts(usage), "prompt_tokens_details": details}


def _sglang(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    return {**_vllm(usage, model, cache_report), "reasoning_tokens": usage.reasoning_tokens}


def _ollama(usage: Usage, model: str, cache_report: bool) -> dict[str, Any]:
    return _counts(usage)


def _minimax_status() -> dict[str, Any]:
    """MiniMax's in-body status: code 0 here (a non-zero code is an error inside a 200)."""
    return {"base_resp": {"status_code": 0, "status_msg": ""}}


@dataclass(frozen=True, slots=True)
class Shape:
    """What one vendor reports, and how its `usage` block looks."""

    render: UsageRenderer
    cached: CacheReporting = "always"
    cache_write: bool = False
    reasoning: bool = True
    #: top-level fields the vendor adds to every non-stream reply (built fresh each time)
    body_extras: Callable[[], dict[str, Any]] | None = None

    def billed(self, plan: ReplyPlan, *, marked: bool, cache_report: bool) -> Usage:
        """The engine's numbers restricted to what this vendor reports (and so bills).

        `marked`: the request carries ``cache_control``; `cache_report`: the directive.
        """
        prompt = plan.prompt_tokens
        reports_cached = self.cached == "always" or (self.cached == "on_request" and cache_report)
        writes = self.cache_write and marked
        return Usage(
            input_tokens=prompt,
            cached_input_tokens=plan.cached_tokens if reports_cached else 0,
            cache_write_tokens=cache_write_tokens_for(prompt) if writes else 0,
            output_tokens=plan.completion_tokens,
            reasoning_tokens=plan.reasoning_tokens if self.reasoning else 0,
        )


SHAPES: MappingProxyType[str, Shape] = MappingProxyType(
    {
        OPENAI: Shape(_openai),
        ANTHROPIC: Shape(_openai, cache_write=True),  # `render` unused: see `messages`
        "deepseek": Shape(_deepseek),
        "zhipu": Shape(_cached_and_thinking),
        "qwen": Shape(_qwen, cache_write=True),
        "doubao": Shape(_doubao),
        "minimax": Shape(_minimax, body_extras=_minimax_status),
        "vllm": Shape(_vllm, cached="on_request", reasoning=False),
        "sglang": Shape(_sglang, cached="on_request"),
        "ollama": Shape(_ollama, cached="never", reasoning=False),
    }
)
DIALECTS: tuple[str, ...] = tuple(sorted(SHAPES))


def shape_of(dialect: str) -> Shape:
    """The named vendor's shape; OpenAI's for a preset added after this table."""
    return SHAPES.get(dialect) or SHAPES[OPENAI]


def chat_dialect(dialect: str) -> str:
    """The usage shape of ``/v1/chat/completions`` replies under the `dialect` setting."""
    return OPENAI if dialect == ANTHROPIC or dialect not in SHAPES else dialect


def usage_block(dialect: str, usage: Usage, *, model: str, cache_report: bool) -> dict[str, Any]:
    """`usage` as the named OpenAI-compatible vendor reports it."""
    return shape_of(dialect).render(usage, model, cache_report)


__all__ = [
    "ANTHROPIC",
    "CACHE_WRITE_PER_BLOCK",
    "DIALECTS",
    "OPENAI",
    "SHAPES",
    "CacheReporting",
    "Shape",
    "cache_write_tokens_for",
    "chat_dialect",
    "has_cache_control",
    "shape_of",
    "usage_block",
]
