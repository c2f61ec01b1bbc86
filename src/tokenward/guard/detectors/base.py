"""What every detector shares: the `Detector` protocol, the scan context, and helpers.

A detector finds candidates with a compiled pattern and keeps only those that pass
validation (a checksum, a parser, a decoder), then scores them with context. It works
on the folded text (see `normalize`) and reports spans into that text; the scanner
maps them back to the original.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tokenward.guard.findings import Finding, FindingType, Role

#: Start of a number: no ASCII letter, digit or underscore before it, and not the
#: fraction of a decimal. Lookarounds, not \b: \b is false between a Chinese
#: character and a digit, so "手机13800138000" would be missed.
NUM_START = r"(?<![0-9A-Za-z_])(?<![0-9]\.)"
#: End of a number: no letter, digit or underscore after it, and no decimal fraction.
NUM_END = r"(?![0-9A-Za-z_])(?!\.[0-9])"
#: Token edges for alphanumeric secrets and codes.
TOKEN_START = r"(?<![0-9A-Za-z])"
TOKEN_END = r"(?![0-9A-Za-z])"

#: Runs the PII and secret detectors over a piece of text (used by `exfil_url`).
SubScan = Callable[[str], list[Finding]]

#: Maximal runs of at least 7 digits, single spaces, hyphens or dots, starting with a
#: digit that follows no letter or digit (the lookbehind sits after the first
#: character so that `re` can skip ahead to digits). Numeric detectors look only
#: inside these runs: one pass serves resident IDs, phones, cards, USCCs and IPv4.
_DIGIT_RUN = re.compile(r"[0-9](?<![0-9A-Za-z_][0-9])(?:[0-9]|[ \-.](?=[0-9])){6,}[0-9Xx]?")
#: How far around a run a numeric pattern may reach (a "+86 " prefix, USCC letters).
RUN_BEFORE = 6
RUN_AFTER = 20


def digit_runs(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the digit runs in `text` (see `_DIGIT_RUN`)."""
    return tuple(m.span() for m in _DIGIT_RUN.finditer(text))


def in_runs(
    pattern: re.Pattern[str], text: str, runs: Iterable[tuple[int, int]]
) -> Iterator[re.Match[str]]:
    """Matches of `pattern` in the windows around `runs`, each match reported once."""
    last = -1
    for start, end in runs:
        window_start = max(0, start - RUN_BEFORE, last)
        for m in pattern.finditer(text, window_start, min(len(text), end + RUN_AFTER)):
            if m.start() >= last:
                last = m.end()
                yield m


def _no_subscan(text: str) -> list[Finding]:
    return []


@dataclass(frozen=True, slots=True)
class ScanContext:
    """Per-scan inputs a detector may need besides the text."""

    role: Role = "user"
    #: hosts that markdown images and links may point at (exact, or "*.example.com")
    allow_hosts: frozenset[str] = frozenset()
    #: the folded text, lower-cased once (same length and offsets as the text)
    lower: str = ""
    #: start offsets of every detector anchor keyword found in `lower` (None: not computed)
    hits: Mapping[str, list[int]] | None = None
    #: digit runs of the text (see `digit_runs`); None: not computed yet
    runs: tuple[tuple[int, int], ...] | None = None
    subscan: SubScan = field(default=_no_subscan)

    def digit_runs(self, text: str) -> tuple[tuple[int, int], ...]:
        """The digit runs of `text`, as computed by the scanner (or now)."""
        return self.runs if self.runs is not None else digit_runs(text)

    def starts(self, anchors: Iterable[str]) -> list[int]:
        """Sorted start offsets of any of `anchors` in the text."""
        hits = self.hits or {}
        return sorted({i for a in anchors for i in hits.get(a, ())})

    @property
    def indirect(self) -> bool:
        """Text that did not come from the person talking to the model (tool results)."""
        return self.role == "tool"


class Detector(Protocol):
    """A family of finding types: candidates by pattern, kept by validation."""

    #: the finding types this detector can report
    types: tuple[FindingType, ...]
    #: lower-case keywords where its matches can start (the scanner finds them in
    #: one pass and passes them in `ScanContext.hits`); empty for unanchored detectors
    anchors: tuple[str, ...]

    def find(self, text: str, ctx: ScanContext) -> Iterable[Finding]:
        """Findings in `text` (already folded), with spans into `text`."""
        ...


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit and other-printable occur in `value`."""
    lower = upper = digit = other = 0
    for ch in value:
        if ch.islower():
            lower = 1
        elif ch.isupper():
            upper = 1
        elif ch.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


__all__ = [
    "NUM_END",
    "NUM_START",
    "RUN_AFTER",
    "RUN_BEFORE",
    "TOKEN_END",
    "TOKEN_START",
    "Detector",
    "ScanContext",
    "SubScan",
    "char_classes",
    "digit_runs",
    "in_runs",
    "shannon_entropy",
]
