"""Find Base64, hex and URL-encoded runs that decode to text, so they can be rescanned.

`aWdub3JlIGFsbCBwcmV2aW91cyBpbnN0cnVjdGlvbnM=` is an instruction to a model that
reads it, and a phone number in a Base64 blob is still a phone number. Runs of a
suspicious length are decoded; only those that decode to readable text are returned
(images, hashes and compressed data decode to binary and are dropped). The scanner
rescans the decoded text and reports what it finds on the span of the encoded run.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

Encoding = Literal["base64", "hex", "url"]

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{20,}={0,2}(?![A-Za-z0-9+/=_\-])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{2}){12,}(?![0-9A-Za-z])")
_URLENC = re.compile(r"(?:[A-Za-z0-9._~+\-]*%[0-9A-Fa-f]{2}){4,}[A-Za-z0-9._~+\-]*")
#: Base64 that is an embedded image or file, not text: never worth decoding.
_DATA_URI = re.compile(r"data:[\w.+\-]+/[\w.+\-]+;base64,$")
_CJK = re.compile(r"[\u3000-\u9fff]")

#: Longest single run decoded, and most decoded characters per scan (bounds the cost).
MAX_RUN = 64 * 1024
MAX_TOTAL = 256 * 1024


@dataclass(frozen=True, slots=True)
class DecodedRun:
    """An encoded run at text[start:end] and the readable text it decodes to."""

    start: int
    end: int
    encoding: Encoding
    text: str


def readable_text(data: bytes) -> str | None:
    """`data` as UTF-8 when it is mostly printable prose or code; else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 8:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    if printable < 0.95 * len(text):
        return None
    words = sum(1 for c in text if c in " \n=:,") + len(_CJK.findall(text))
    return text if words >= 1 else None


def _b64(value: str) -> str | None:
    value = value.rstrip("=")
    padded = value + "=" * (-len(value) % 4)
    alphabet_url = "-" in value or "_" in value
    try:
        raw = (base64.urlsafe_b64decode if alphabet_url else base64.b64decode)(padded)
    except (ValueError, binascii.Error):
        return None
    return readable_text(raw)


def _long_tokens(text: str, minimum: int) -> list[tuple[int, int]]:
    """Spans of the whitespace-separated tokens of at least `minimum` characters.

    `str.split` runs in C; a regex over every character costs twice as much, and an
    encoded run can only live inside a long token.
    """
    spans = []
    pos = 0
    for token in text.split():
        if len(token) >= minimum:
            start = text.find(token, pos)
            pos = start + len(token)
            spans.append((start, pos))
    return spans


def find_encoded(
    text: str, skip: tuple[tuple[int, int], ...] = (), *, budget: int = MAX_TOTAL
) -> list[DecodedRun]:
    """Encoded runs in `text` that decode to readable text, outside the `skip` spans."""
    out: list[DecodedRun] = []
    for start, end in _long_tokens(text, 20):
        budget = _decode_token(text, start, end, skip, budget, out)
        if budget <= 0:
            break
    return out


def _decode_token(
    text: str,
    start: int,
    end: int,
    skip: tuple[tuple[int, int], ...],
    budget: int,
    out: list[DecodedRun],
) -> int:
    def skipped(m: re.Match[str]) -> bool:
        return any(s < m.end() and m.start() < e for s, e in skip)

    for m in _BASE64.finditer(text, start, end):
        value = m.group()
        if len(value) > MAX_RUN or budget <= 0 or skipped(m):
            continue
        if _DATA_URI.search(text, max(0, m.start() - 64), m.start()):
            continue
        if value.isalpha() or value.isdigit():
            continue  # a long word or number, not an encoding
        budget -= len(value)
        if (decoded := _b64(value)) is not None:
            out.append(DecodedRun(m.start(), m.end(), "base64", decoded))
    for m in _HEX.finditer(text, start, end):
        if budget <= 0 or skipped(m) or any(r.start <= m.start() < r.end for r in out):
            continue
        budget -= len(m.group())
        if (decoded := readable_text(bytes.fromhex(m.group()))) is not None:
            out.append(DecodedRun(m.start(), m.end(), "hex", decoded))
    if "%" in text[start:end]:
        for m in _URLENC.finditer(text, start, end):
            if budget <= 0 or skipped(m):
                continue
            budget -= len(m.group())
            decoded_url = unquote_plus(m.group())
            if decoded_url != m.group() and readable_text(decoded_url.encode()) is not None:
                out.append(DecodedRun(m.start(), m.end(), "url", decoded_url))
    return budget


__all__ = ["MAX_RUN", "MAX_TOTAL", "DecodedRun", "Encoding", "find_encoded", "readable_text"]
