"""Provider presets: base URL, auth header and usage-field quirks of each known upstream.

Data, not branches: a vendor's quirk is a `UsageFields` value (where it puts each
usage category), and one reader, `usage_from_fields`, applies any of them. Adding a
vendor is adding a `Preset`, with the documentation it was written from in `docs`.

Every count follows `metering.Usage`'s convention: cached reads and cache writes
are parts of the input, reasoning is part of the output. All the OpenAI-compatible
vendors below report `prompt_tokens` INCLUDING their cached tokens; only Anthropic
(its own kind) reports input without them.

Field names were checked against the vendors' public docs and, where the docs show
no full body, against the servers' source or vendors' published examples; each
preset says which, and what is still unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tokenward.errors import ConfigError
from tokenward.metering.anthropic import usage_from_anthropic
from tokenward.metering.usage import Usage


@dataclass(frozen=True, slots=True)
class UsageFields:
    """Where a vendor reports each category: dotted paths into `usage`; first valid wins.

    `input_parts` are summed when no `input` path is present (DeepSeek documents
    prompt = cache hit + cache miss). A null detail counts as absent; a null input or
    output count makes the block malformed, as in `usage_from_openai`.
    """

    input: tuple[str, ...] = ("prompt_tokens",)
    input_parts: tuple[str, ...] = ()
    output: tuple[str, ...] = ("completion_tokens",)
    cached_input: tuple[str, ...] = ("prompt_tokens_details.cached_tokens",)
    #: DashScope's explicit-cache field; also where `translate` keeps Anthropic cache writes
    cache_write: tuple[str, ...] = ("prompt_tokens_details.cache_creation_input_tokens",)
    reasoning: tuple[str, ...] = ("completion_tokens_details.reasoning_tokens",)


OPENAI_USAGE = UsageFields()


@dataclass(frozen=True, slots=True)
class Preset:
    """One upstream vendor: where it lives, how it authenticates, how it reports usage."""

    name: str
    kind: Literal["openai", "anthropic"]
    base_url: str
    auth_header: str = "Authorization"
    #: prefix of the key in `auth_header` ("Bearer"), or "" for the bare key
    auth_scheme: str = "Bearer"
    extra_headers: tuple[tuple[str, str], ...] = ()
    usage: UsageFields = OPENAI_USAGE
    #: "include_usage": a stream reports usage only when asked (the gateway always asks);
    #: "always": the dialect always streams it (Anthropic's message_start / message_delta)
    stream_usage: Literal["include_usage", "always"] = "include_usage"
    docs: tuple[str, ...] = ()
    notes: str = ""

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that authenticate a request with `api_key`."""
        value = f"{self.auth_scheme} {api_key}" if self.auth_scheme else api_key
        return {self.auth_header: value, **dict(self.extra_headers)}


_PRESETS = (
    Preset(
        name="openai",
        kind="openai",
        base_url="https://api.openai.com/v1",
        docs=("https://platform.openai.com/docs/api-reference/chat/object",),
        notes="The reference shape; streams report usage only with stream_options.include_usage.",
    ),
    Preset(
        name="anthropic",
        kind="anthropic",
        base_url="https://api.anthropic.com/v1",
        auth_header="x-api-key",
        auth_scheme="",
        extra_headers=(("anthropic-version", "2023-06-01"),),
        stream_usage="always",
        docs=(
            "https://docs.anthropic.com/en/api/messages",
            "https://docs.anthropic.com/en/docs/build-with-claude/streaming",
        ),
        notes=(
            "input_tokens EXCLUDES cache_read_input_tokens and cache_creation_input_tokens; "
            "message_delta usage is cumulative (metering.anthropic)."
        ),
    ),
    Preset(
        name="deepseek",
        kind="openai",
        base_url="https://api.deepseek.com",
        usage=UsageFields(
            input_parts=("prompt_cache_hit_tokens", "prompt_cache_miss_tokens"),
            cached_input=("prompt_cache_hit_tokens", "prompt_tokens_details.cached_tokens"),
            cache_write=(),
        ),
        docs=(
            "https://api-docs.deepseek.com/api/create-chat-completion",
            "https://api-docs.deepseek.com/guides/kv_cache",
            "https://api-docs.deepseek.com/guides/reasoning_model",
        ),
        notes=(
            "prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens; recent replies "
            "also carry prompt_tokens_details.cached_tokens (same number). deepseek-reasoner puts "
            "its chain of thought in reasoning_content and counts it in "
            "completion_tokens_details.reasoning_tokens. Cache writes are not billed separately."
        ),
    ),
    Preset(
        name="zhipu",
        kind="openai",
        base_url="https://open.bigmodel.cn/api/paas/v4",
        docs=(
            "https://docs.bigmodel.cn/cn/guide/capabilities/cache",
            "https://docs.bigmodel.cn/api-reference",
        ),
        notes=(
            "Implicit cache hits in usage.prompt_tokens_details.cached_tokens (documented). "
            "GLM-4.5+ thinking text arrives as reasoning_content; a reasoning_tokens count under "
            "completion_tokens_details is read when present (unverified in the docs). "
            "International endpoint: https://api.z.ai/api/paas/v4."
        ),
    ),
    Preset(
        name="qwen",
        kind="openai",
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        docs=(
            "https://www.alibabacloud.com/help/en/model-studio/context-cache",
            "https://help.aliyun.com/zh/model-studio/user-guide/context-cache",
        ),
        notes=(
            "Implicit cache hits in prompt_tokens_details.cached_tokens (documented, included "
            "in prompt_tokens); explicit cache (cache_control) writes in "
            "prompt_tokens_details.cache_creation_input_tokens (seen in DashScope's own sample "
            "code; billed at 125%). Thinking models: completion_tokens_details.reasoning_tokens "
            "(unverified). International: https://dashscope-intl.aliyuncs.com/compatible-mode/v1."
        ),
    ),
    Preset(
        name="doubao",
        kind="openai",
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        docs=("https://www.volcengine.com/docs/82379",),
        notes=(
            "Volcano Ark Chat API: usage.prompt_tokens_details.cached_tokens and "
            "usage.completion_tokens_details.reasoning_tokens (deep-thinking models), per the "
            "Chat API reference under the docs root above (exact page id unverified). The model "
            "field may be an endpoint id (ep-...)."
        ),
    ),
    Preset(
        name="minimax",
        kind="openai",
        base_url="https://api.minimaxi.com/v1",
        docs=(
            "https://platform.minimax.io/docs/api-reference/text-chat",
            "https://platform.minimax.io/docs/api-reference/text-prompt-caching",
        ),
        notes=(
            "OpenAI-compatible usage plus total_characters (ignored): prompt_tokens, "
            "completion_tokens, completion_tokens_details.reasoning_tokens; passive cache hits "
            "in prompt_tokens_details.cached_tokens (the full body is from MiniMax's published "
            "example as mirrored by resellers; treat as likely, not certain). Also "
            "base_resp.status_code != 0 signals an error inside a 200. International: "
            "https://api.minimax.io/v1; an Anthropic-compatible endpoint is at /anthropic."
        ),
    ),
    Preset(
        name="vllm",
        kind="openai",
        base_url="http://localhost:8000/v1",
        docs=("https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",),
        notes=(
            "OpenAI shape; prompt_tokens_details.cached_tokens only with "
            "--enable-prompt-tokens-details; streams report usage only with include_usage. "
            "The key (--api-key) is optional."
        ),
    ),
    Preset(
        name="ollama",
        kind="openai",
        base_url="http://localhost:11434/v1",
        docs=(
            "https://docs.ollama.com/api/openai-compatibility",
            "https://github.com/ollama/ollama/releases/tag/v0.5.2",
        ),
        notes=(
            "prompt_tokens / completion_tokens / total_tokens only (no cached or reasoning "
            "details); stream usage with include_usage since v0.5.2. Any key is accepted."
        ),
    ),
    Preset(
        name="sglang",
        kind="openai",
        base_url="http://localhost:30000/v1",
        usage=UsageFields(
            reasoning=("completion_tokens_details.reasoning_tokens", "reasoning_tokens"),
        ),
        docs=(
            "https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/entrypoints/openai/protocol.py",
        ),
        notes=(
            "UsageInfo (source): prompt_tokens, completion_tokens, total_tokens, "
            "prompt_tokens_details (null unless --enable-cache-report) and a top-level "
            "reasoning_tokens. Streams report usage only with include_usage."
        ),
    ),
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}


def get_preset(name: str) -> Preset:
    """The named preset; ConfigError for an unknown name (check presets at start-up)."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown provider preset {name!r}; known: {known}") from None


_ABSENT = object()


def _count(value: Any) -> int | None:
    # metering.normalize's rule, restated (its helper is private to metering):
    # bool is an int subclass, and a vendor sending `true` for a count is malformed
    if type(value) is int and value >= 0:
        return value
    return None


def _lookup(block: dict[str, Any], path: str) -> Any:
    """The value at `path`; `_ABSENT` if a step is missing (a null parent counts as missing)."""
    value: Any = block
    for key in path.split("."):
        if not isinstance(value, dict):
            return _ABSENT
        value = value.get(key, _ABSENT)
    return value


def _first_count(block: dict[str, Any], paths: tuple[str, ...]) -> int | None:
    """The first path holding a valid count; malformed detail counts are skipped."""
    for path in paths:
        count = _count(_lookup(block, path))
        if count is not None:
            return count
    return None


def _input(block: dict[str, Any], fields: UsageFields) -> int | None:
    for path in fields.input:
        value = _lookup(block, path)
        if value is not _ABSENT:
            return _count(value)  # present but malformed -> None: the block is malformed
    parts = [_count(_lookup(block, path)) for path in fields.input_parts]
    if parts and all(part is not None for part in parts):
        return sum(part for part in parts if part is not None)
    return None


def usage_from_fields(fields: UsageFields, block: Any) -> Usage | None:
    """A vendor usage block -> Usage, or None when absent or malformed.

    Same rules as `metering.usage_from_openai`: explicit zeros are kept, a missing
    completion count means 0 (embeddings), and a part never exceeds its parent.
    """
    if not isinstance(block, dict):
        return None
    prompt = _input(block, fields)
    if prompt is None:
        return None
    completion = 0
    for path in fields.output:
        value = _lookup(block, path)
        if value is not _ABSENT:
            count = _count(value)
            if count is None:
                return None
            completion = count
            break
    cached = min(_first_count(block, fields.cached_input) or 0, prompt)
    written = min(_first_count(block, fields.cache_write) or 0, prompt - cached)
    reasoning = min(_first_count(block, fields.reasoning) or 0, completion)
    return Usage(
        input_tokens=prompt,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=completion,
        reasoning_tokens=reasoning,
    )


def usage_from_preset(preset_name: str, block: Any) -> Usage | None:
    """A usage block as the named vendor reports it -> Usage.

    An unknown name reads the OpenAI shape (the common denominator of every
    OpenAI-compatible server); the config loader should reject unknown names with
    `get_preset` before a request ever gets here.
    """
    preset = PRESETS.get(preset_name)
    if preset is not None and preset.kind == "anthropic":
        return usage_from_anthropic(block)
    return usage_from_fields(preset.usage if preset else OPENAI_USAGE, block)


__all__ = [
    "OPENAI_USAGE",
    "PRESETS",
    "Preset",
    "UsageFields",
    "get_preset",
    "usage_from_fields",
    "usage_from_preset",
]
