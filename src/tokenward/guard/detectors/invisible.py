"""`invisible_text`: characters that render as nothing but carry meaning to a model.

Unicode tag characters (U+E0000-E007F) spell hidden ASCII that models read and people
do not; runs of zero-width characters carry hidden bits; bidi overrides and isolates
reorder what a reviewer sees (Trojan Source). Ordinary uses stay quiet: a lone ZWJ
inside an emoji sequence, a ZWNJ in Persian or Indic script, a leading BOM, and the
LRM / RLM marks of right-to-left text.

This detector reads the original text (folding removes exactly these characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenward.guard.detectors.base import ScanContext
from tokenward.guard.findings import Finding, FindingType

_ZW = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e"
_PATTERN = re.compile(
    r"(?P<tags>[\U000E0000-\U000E007F]+)"
    rf"|(?P<run>[{_ZW}]{{2,}})"
    rf"|(?P<single>(?<=[A-Za-z0-9])[{_ZW}](?=[A-Za-z0-9]))"
    r"|(?P<bidi>[\u202a-\u202e\u2066-\u2069]+)"
)
_SUSPECT = re.compile(rf"[\U000E0000-\U000E007F{_ZW}\u202a-\u202e\u2066-\u2069]")


def decode_tags(run: str) -> str:
    """The ASCII text that a run of tag characters spells (U+E0041 -> "A")."""
    return "".join(chr(ord(c) - 0xE0000) for c in run if 0xE0020 <= ord(c) <= 0xE007E)


class InvisibleTextDetector:
    """Finds hidden characters in the original (unfolded) text."""

    types: tuple[FindingType, ...] = ("invisible_text",)
    anchors: tuple[str, ...] = ()
    #: tells the scanner to hand over the original text, not the folded one
    on_original = True

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        if text.isascii() or not _SUSPECT.search(text):
            return
        for m in _PATTERN.finditer(text):
            kind = m.lastgroup
            n = m.end() - m.start()
            if kind == "tags":
                hidden = decode_tags(m.group())
                reason = (
                    f"{n} Unicode tag characters spelling {len(hidden)} hidden ASCII characters"
                )
                yield Finding("invisible_text", m.start(), m.end(), 0.95, reason)
            elif kind == "run":
                reason = f"run of {n} zero-width characters"
                yield Finding("invisible_text", m.start(), m.end(), 0.85, reason)
            elif kind == "single":
                reason = "zero-width character inside a word"
                yield Finding("invisible_text", m.start(), m.end(), 0.7, reason)
            else:
                override = any(c in "\u202d\u202e" for c in m.group())
                reason = "bidi override" if override else "bidi embedding/isolate control"
                score = 0.9 if override else 0.75
                yield Finding("invisible_text", m.start(), m.end(), score, reason)


__all__ = ["InvisibleTextDetector", "decode_tags"]
