"""Context words around a candidate raise or lower its confidence.

"卡号 6222…" is a card; "订单号 6222…" is an order. The nearest cue before the
candidate wins (a cue right after it counts too, with a shorter reach), and a value
assigned to a named field (`size_bytes = …`, `"phone": "…"`) is judged by the
field's name. ASCII cue words must stand alone (`card`, not `discard`); Chinese cues
match anywhere, since Chinese has no spaces between words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: `key = `, `"key": `, `key：` right before a value, with an ASCII or Chinese key.
_FIELD = re.compile(
    r"""(?:^|[\s{,(\[;&?"'])"?'?([A-Za-z_][A-Za-z0-9_.\-]*|[\u4e00-\u9fff]{1,8})["']?"""
    r"""\s*(?:=|:|：|=>|->)\s*["'(]?\s*$"""
)


def _cue_pattern(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word)
        if word.isascii() and word[:1].isalnum():
            escaped = rf"(?<![A-Za-z]){escaped}(?![A-Za-z])"
        alternatives.append(escaped)
    return re.compile("|".join(alternatives), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Cue:
    """Which way the context pointed, and the word that said so (for the reason)."""

    delta: float
    word: str

    def describe(self) -> str:
        sign = "+" if self.delta > 0 else "-"
        return f"context {sign}'{self.word}'"


NO_CUE = Cue(0.0, "")


class ContextWords:
    """Positive and negative cue words for one detector, compiled once.

    `boost` and `penalty` are the score changes; `neutral_field_penalty` applies to a
    value assigned to a field whose name carries no cue (`id = 13800138000`).
    """

    def __init__(
        self,
        positive: Iterable[str],
        negative: Iterable[str],
        *,
        boost: float = 0.2,
        penalty: float = 0.45,
        neutral_field_penalty: float = 0.0,
        before: int = 24,
        after: int = 8,
    ) -> None:
        self._positive = _cue_pattern(positive)
        self._negative = _cue_pattern(negative)
        self.boost = boost
        self.penalty = penalty
        self.neutral_field_penalty = neutral_field_penalty
        self.before = before
        self.after = after

    def cue(self, text: str, start: int, end: int) -> Cue:
        """The context cue for the candidate at text[start:end]."""
        window = text[max(0, start - self.before) : start]
        pos = _last(self._positive, window)
        neg = _last(self._negative, window)
        if pos or neg:
            # the nearer cue wins: a larger end offset is closer to the candidate
            if pos and (not neg or pos[0] >= neg[0]):
                return Cue(self.boost, pos[1])
            assert neg is not None
            return Cue(-self.penalty, neg[1])
        tail = text[end : end + self.after]
        if m := self._negative.match(tail.lstrip(" \t")):
            return Cue(-self.penalty, m.group())
        if m := self._positive.match(tail.lstrip(" \t（(")):
            return Cue(self.boost, m.group())
        if self.neutral_field_penalty and _FIELD.search(window):
            return Cue(-self.neutral_field_penalty, "unnamed field")
        return NO_CUE


def _last(pattern: re.Pattern[str], window: str) -> tuple[int, str] | None:
    found = None
    for m in pattern.finditer(window):
        found = (m.end(), m.group())
    return found


def field_name(text: str, start: int, reach: int = 40) -> str | None:
    """The name of the field a value at `start` is assigned to, if any."""
    m = _FIELD.search(text[max(0, start - reach) : start])
    return m.group(1) if m else None


def clamp(score: float) -> float:
    """A score in [0, 1]."""
    return 0.0 if score < 0 else 1.0 if score > 1 else score


__all__ = ["NO_CUE", "ContextWords", "Cue", "clamp", "field_name"]
