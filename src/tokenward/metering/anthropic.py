"""Anthropic Messages usage -> `Usage`, for replies and for streams.

Anthropic's `input_tokens` EXCLUDES cache reads and cache writes, while `Usage`
(OpenAI's convention) counts them as parts of the input. So the input we book is
`input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, with the
two cache counts kept as its cached-read and cache-write parts.

In a stream, `message_start` carries the input counts and each `message_delta`
carries CUMULATIVE totals (several deltas arrive when server tools run). The last
value wins and a field a delta leaves out keeps its previous value; summing the
deltas would bill the same tokens twice (R-SSE-4).
"""

from __future__ import annotations

from typing import Any

from tokenward.metering.normalize import _count
from tokenward.metering.usage import Usage

_INPUT = "input_tokens"
_READ = "cache_read_input_tokens"
_WRITE = "cache_creation_input_tokens"
_OUTPUT = "output_tokens"
_THINKING = "thinking_tokens"  # from `output_tokens_details`
_FIELDS = (_INPUT, _READ, _WRITE, _OUTPUT)


class _Malformed(Exception):
    """A count that is present but not a non-negative int."""


def _read_counts(block: dict[str, Any]) -> dict[str, int]:
    """The counts present in `block`; absent or null fields are left out."""
    counts: dict[str, int] = {}
    for name in _FIELDS:
        value = block.get(name)
        if value is None:
            continue
        count = _count(value)
        if count is None:
            raise _Malformed(name)
        counts[name] = count
    details = block.get("output_tokens_details")
    if isinstance(details, dict) and details.get(_THINKING) is not None:
        thinking = _count(details.get(_THINKING))
        if thinking is None:
            raise _Malformed(_THINKING)
        counts[_THINKING] = thinking
    return counts


def _to_usage(counts: dict[str, int]) -> Usage | None:
    if _INPUT not in counts or _OUTPUT not in counts:
        return None
    read, write, output = counts.get(_READ, 0), counts.get(_WRITE, 0), counts[_OUTPUT]
    return Usage(
        input_tokens=counts[_INPUT] + read + write,
        cached_input_tokens=read,
        cache_write_tokens=write,
        output_tokens=output,
        reasoning_tokens=min(counts.get(_THINKING, 0), output),
    )


def usage_from_anthropic(block: Any) -> Usage | None:
    """An Anthropic `usage` object -> Usage, or None when absent or malformed.

    >>> usage = usage_from_anthropic(
    ...     {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 5}
    ... )
    >>> (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens)
    (100, 90, 5)
    """
    if not isinstance(block, dict):
        return None
    try:
        return _to_usage(_read_counts(block))
    except _Malformed:
        return None


class AnthropicStreamUsage:
    """Folds a stream's `message_start` and `message_delta` usage into one `Usage`.

    Every count is a running total, so each update overwrites (last wins) and a
    field missing from a delta keeps its earlier value. A malformed count poisons
    the stream's usage (`usage()` returns None) so the caller estimates instead of
    booking a guess.
    """

    __slots__ = ("_complete", "_counts", "_malformed")

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._complete = False
        self._malformed = False

    def _update(self, block: Any) -> bool:
        if block is None:
            return False
        if not isinstance(block, dict):
            self._malformed = True
            return False
        try:
            counts = _read_counts(block)
        except _Malformed:
            self._malformed = True
            return False
        self._counts.update(counts)
        return _OUTPUT in counts

    def on_message_start(self, usage: Any) -> None:
        """Record `message_start.message.usage` (input counts, an initial output count)."""
        self._update(usage)

    def on_message_delta(self, usage: Any) -> None:
        """Record a `message_delta.usage`: cumulative totals, so they replace, never add."""
        if self._update(usage):
            self._complete = True

    @property
    def complete(self) -> bool:
        """Whether a `message_delta` gave the final output count (False if the stream was cut)."""
        return self._complete and not self._malformed

    def usage(self) -> Usage | None:
        """The counts so far, or None if malformed or input/output never reported."""
        if self._malformed:
            return None
        return _to_usage(self._counts)


__all__ = ["AnthropicStreamUsage", "usage_from_anthropic"]
