"""The `Usage` value object: token counts of one request, by category.

Convention (OpenAI's, applied to every provider by `metering.normalize`):
`cached_input_tokens` and `cache_write_tokens` are parts of `input_tokens`, and
`reasoning_tokens` is a part of `output_tokens`. So `input_tokens + output_tokens`
is always the total a provider bills, and pricing charges the cached and reasoning
parts at their own rates by subtracting them from their parent category.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request; `estimated` marks counts the provider did not report."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __post_init__(self) -> None:
        for name in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")


ZERO_USAGE = Usage()

__all__ = ["ZERO_USAGE", "Usage"]
