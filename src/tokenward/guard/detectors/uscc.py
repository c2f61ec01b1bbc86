"""`cn_uscc`: the 18-character Unified Social Credit Code of Chinese organisations.

GB 32100-2015 layout: registration office (1-9, A, N, Y), organisation category,
6-digit region code, 9-character organisation code, and a check character computed
mod 31 over the alphabet 0-9 A-Y without I, O, S, V, Z.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenward.guard.context import ContextWords, clamp
from tokenward.guard.detectors.base import TOKEN_END, TOKEN_START, ScanContext, in_runs
from tokenward.guard.detectors.cn_id import PROVINCES
from tokenward.guard.findings import Finding, FindingType

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CHARS = "0-9A-HJ-NPQRTUWXY"
_PATTERN = re.compile(
    TOKEN_START + rf"([1-9ANY][1-9])(\d{{6}})([{_CHARS}]{{9}})([{_CHARS}])" + TOKEN_END
)

CONTEXT = ContextWords(
    positive=("统一社会信用代码", "信用代码", "社会信用", "uscc", "税号", "纳税人识别号",
              "营业执照", "credit code", "tax id", "business licence", "business license"),
    negative=("订单", "order", "tracking", "运单", "快递", "serial", "sku"),
    boost=0.05,
    penalty=0.3,
)  # fmt: skip


def check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True for a well-formed USCC (layout, region and check character)."""
    m = _PATTERN.fullmatch(code)
    return m is not None and _region_ok(m.group(2)) and check_char(code[:17]) == code[17]


def _region_ok(region: str) -> bool:
    # "10" is the code of central-government registrations
    return region[:2] in PROVINCES or region[:2] == "10"


class UsccDetector:
    """Finds Unified Social Credit Codes with a valid mod-31 check character."""

    types: tuple[FindingType, ...] = ("cn_uscc",)
    anchors: tuple[str, ...] = ()

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for m in in_runs(_PATTERN, text, ctx.digit_runs(text)):
            code = m.group()
            if not _region_ok(m.group(2)) or check_char(code[:17]) != code[17]:
                continue
            cue = CONTEXT.cue(text, m.start(), m.end())
            reason = "Unified Social Credit Code: layout, region and mod-31 check valid"
            if cue.word:
                reason += f"; {cue.describe()}"
            yield Finding("cn_uscc", m.start(), m.end(), clamp(0.9 + cue.delta), reason)


__all__ = ["ALPHABET", "UsccDetector", "check_char", "is_valid"]
