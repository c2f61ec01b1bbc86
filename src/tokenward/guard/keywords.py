"""Find every occurrence of many fixed keywords in one pass over the text.

Anchored detectors (vendor key prefixes, secret field names, injection phrases, URL
markers) do not walk the text with their own patterns: one keyword pass finds where
each could start, and the pattern is then tried only there (`pattern.match(text, i)`).
With CPython's `re` a dozen full passes over a 16 KB prompt cost milliseconds each
for case-insensitive alternations; one Aho-Corasick pass costs a fraction of one.

`pyahocorasick` does the pass when it is installed; without it a regex of lookaheads
finds the same (overlapping) occurrences, correctly but several times slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

try:  # optional accelerator: a C Aho-Corasick automaton
    import ahocorasick
except ImportError:  # pragma: no cover - exercised only where it is not installed
    ahocorasick = None


class KeywordIndex:
    """A fixed set of lower-case keywords, compiled once; `find()` is thread-safe."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(sorted({w.lower() for w in words if w}))
        self._automaton = None
        self._regex: re.Pattern[str] | None = None
        if ahocorasick is not None:
            automaton = ahocorasick.Automaton()
            for word in self.words:
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton
        else:
            alternation = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
            self._regex = re.compile(f"(?=({alternation}))")
        # the regex reports the longest word at a position; these are the shorter ones
        self._prefixes = {
            w: [p for p in self.words if p != w and w.startswith(p)] for w in self.words
        }

    @property
    def accelerated(self) -> bool:
        """True when the C automaton is in use."""
        return self._automaton is not None

    def find(self, lower: str) -> Mapping[str, list[int]]:
        """Start offsets of every occurrence of every keyword in `lower` (lower-cased)."""
        hits: dict[str, list[int]] = {}
        if self._automaton is not None:
            for end, word in self._automaton.iter(lower):
                hits.setdefault(word, []).append(end - len(word) + 1)
        elif self._regex is not None and self.words:
            for m in self._regex.finditer(lower):
                for word in (m.group(1), *self._prefixes[m.group(1)]):
                    hits.setdefault(word, []).append(m.start())
        return hits


__all__ = ["KeywordIndex"]
