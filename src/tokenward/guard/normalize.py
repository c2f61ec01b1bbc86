"""Fold look-alike characters before scanning, keeping a map back to the original offsets.

Attackers and ordinary users both write `１３８００１３８０００`, `ｓｋ－ｐｒｏｊ`, 𝐈𝐠𝐧𝐨𝐫𝐞 or
`pass\u200bword`. Detectors run on the folded text, and every span they report is
mapped back, so redaction replaces exactly the characters the client sent.

Folding is NFKC per character (no composition across characters), restricted to the
blocks that hold look-alike letters, digits and symbols (full-width and small forms,
enclosed and mathematical alphanumerics, ligatures, super/subscripts, letterlike
symbols, CJK compatibility ideographs), plus the removal of invisible format
characters (zero-width, bidi controls, Unicode tags). The restriction is for speed:
one small character class finds every candidate, where a class of all of NFKC's
thousands of changes made `re` fifty times slower. The common full-width CJK
punctuation (，：；（）！？ and the ideographic space) and `…` are left as they are:
patterns accept them directly, and Chinese prose stays on the fast path.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

#: Invisible format characters removed before scanning (detected separately).
INVISIBLE_CHARS = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_TAGS = range(0xE0000, 0xE0080)
#: Full-width punctuation that is common in Chinese prose and harmless to leave as is.
_KEEP = "，：；（）！？\u3000…"
#: Blocks whose compatibility forms fold to letters, digits and ASCII symbols.
_BLOCKS = (
    range(0x00A0, 0x00C0),  # Latin-1 punctuation: nbsp, superscripts, fractions
    range(0x2070, 0x20A0),  # superscripts and subscripts
    range(0x2100, 0x2190),  # letterlike symbols, roman numerals
    range(0x2460, 0x2500),  # enclosed alphanumerics (①, ⓐ)
    range(0xF900, 0xFB07),  # CJK compatibility ideographs, Latin ligatures
    range(0xFE50, 0xFE70),  # small form variants
    range(0xFF01, 0xFF5F),  # full-width ASCII
    range(0x1D400, 0x1D800),  # mathematical alphanumerics (𝐈𝐠𝐧𝐨𝐫𝐞)
    range(0x1F100, 0x1F1B0),  # enclosed alphanumeric supplement
)


@cache
def _folding() -> tuple[dict[str, str], re.Pattern[str], re.Pattern[str]]:
    """The fold table, a pattern for runs of its characters, and the same for the BMP.

    Computed once per process (a pure function of the Unicode database, cached).
    """
    fold: dict[str, str] = {}
    for code in (c for block in _BLOCKS for c in block):
        ch = chr(code)
        if ch in _KEEP:
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch:
            fold[ch] = folded
    for ch in INVISIBLE_CHARS:
        fold[ch] = ""
    for code in _TAGS:
        fold[chr(code)] = ""
    # whole blocks, not the exact set: a class of a few ranges keeps `re` fast
    # (minus the kept punctuation, so ordinary Chinese prose has no match at all)
    codes = sorted(
        {c for block in _BLOCKS for c in block if chr(c) not in _KEEP}
        | {ord(c) for c in INVISIBLE_CHARS}
        | set(_TAGS)
    )
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    klass = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)
    bmp = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges if hi < 0x10000)
    # `re` scans a class of BMP ranges about three times faster than one with astral ones
    return fold, re.compile(f"[{klass}]+"), re.compile(f"[{bmp}]+")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Folded text plus the piecewise map from its offsets to the original's.

    `pieces` holds (folded start, original start, folded length, original length);
    a piece with equal lengths maps character by character. Empty when the folding
    kept every offset (the common case).
    """

    original: str
    text: str
    pieces: tuple[tuple[int, int, int, int], ...] = ()
    starts: tuple[int, ...] = ()
    #: False when the text has no foldable or invisible character at all
    touched: bool = False

    @property
    def changed(self) -> bool:
        """True when folding rewrote any character."""
        return self.text is not self.original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the folded text to the original text."""
        if not self.pieces:
            return start, end
        return self._start(start), self._end(end)

    def _start(self, pos: int) -> int:
        i = max(bisect.bisect_right(self.starts, pos) - 1, 0)
        n_start, o_start, n_len, o_len = self.pieces[i]
        if n_len == o_len:
            return o_start + min(pos - n_start, o_len)
        return o_start if pos < n_start + n_len else o_start + o_len

    def _end(self, pos: int) -> int:
        if pos <= 0:
            return 0
        i = max(bisect.bisect_right(self.starts, pos - 1) - 1, 0)
        n_start, o_start, n_len, o_len = self.pieces[i]
        if n_len == o_len:
            return o_start + min(pos - n_start, o_len)
        return o_start + o_len


def normalize_text(text: str) -> NormalizedText:
    """Fold `text` (see module docstring); ASCII text is returned as is, at no cost.

    >>> n = normalize_text("手机１３８００１３８０００")
    >>> n.text
    '手机13800138000'
    >>> n.span(2, 13)
    (2, 13)
    """
    if text.isascii():
        return NormalizedText(text, text)
    fold, runs, bmp_runs = _folding()
    if len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(
        text
    ):  # no character beyond the BMP
        runs = bmp_runs
    first = runs.search(text)
    if first is None:
        return NormalizedText(text, text)
    out: list[str] = []
    pieces: list[tuple[int, int, int, int]] = []
    copied = 0  # original offset up to which text has been copied to `out`
    n = 0  # folded length written so far
    seg_o = seg_n = 0  # start of the current one-to-one piece
    for match in runs.finditer(text, first.start()):
        out.append(text[copied : match.start()])
        n += match.start() - copied
        for k in range(match.start(), match.end()):
            rep = fold.get(text[k], text[k])
            if len(rep) == 1:
                out.append(rep)
                n += 1
                continue
            if k > seg_o:
                pieces.append((seg_n, seg_o, n - seg_n, k - seg_o))
            pieces.append((n, k, len(rep), 1))
            out.append(rep)
            n += len(rep)
            seg_o, seg_n = k + 1, n
        copied = match.end()
    out.append(text[copied:])
    if pieces:
        pieces.append((seg_n, seg_o, len(text) - seg_o, len(text) - seg_o))
    folded = "".join(out)
    return NormalizedText(text, folded, tuple(pieces), tuple(p[0] for p in pieces), True)


def lower_text(text: str) -> str:
    """`text.lower()` with the same length and offsets (the rare characters whose lower
    case is longer, such as "İ", are left as they are)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


__all__ = ["INVISIBLE_CHARS", "NormalizedText", "lower_text", "normalize_text"]
