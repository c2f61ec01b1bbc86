"""Metering: provider usage blocks -> `Usage`; estimates only when the provider gave none."""

from tokenward.metering.anthropic import AnthropicStreamUsage, usage_from_anthropic
from tokenward.metering.estimate import (
    estimate_embedding_input_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
    estimate_usage,
)
from tokenward.metering.normalize import usage_from_openai
from tokenward.metering.usage import ZERO_USAGE, Usage

__all__ = [
    "ZERO_USAGE",
    "AnthropicStreamUsage",
    "Usage",
    "estimate_embedding_input_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "estimate_usage",
    "usage_from_anthropic",
    "usage_from_openai",
]
