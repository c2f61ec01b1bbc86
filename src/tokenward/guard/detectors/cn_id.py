"""`cn_resident_id`: 18-character mainland resident identity numbers (GB 11643-1999).

Layout: 6-digit region code, 8-digit birth date, 3-digit sequence, check character
(ISO 7064 MOD 11-2, `X` for 10). A candidate is reported only when the checksum
holds, the region is structurally real and the birth date is a real calendar date.

The region check is structural (GB/T 2260): a real province, a prefecture code in
01-70 or 90, and for Hong Kong, Macao and Taiwan residence permits (81/82/83) the
exact codes 810000 / 820000 / 830000. A full county table is not used on purpose:
an ID keeps the county code of its first registration, and thousands of codes have
since been abolished, so a current table would reject real IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from tokenward.guard.context import ContextWords, clamp
from tokenward.guard.detectors.base import NUM_END, NUM_START, ScanContext, in_runs
from tokenward.guard.findings import Finding, FindingType

#: GB/T 2260 province-level codes (11 Beijing ... 65 Xinjiang, 71 Taiwan, 81-83 permits).
PROVINCES = frozenset(
    (
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
        "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
        "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
    )
)  # fmt: skip
_PERMIT_REGIONS = frozenset(("810000", "820000", "830000"))
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

_PATTERN = re.compile(NUM_START + r"([1-8]\d{5})([ -]?)(\d{8})\2?(\d{3}[0-9Xx])" + NUM_END)

CONTEXT = ContextWords(
    positive=(
        "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "身份号码", "公民身份",
        "居民身份", "id card", "id number", "idcard", "id_card", "id_no", "idno", "sfz",
        "national id", "resident id", "identity", "id_number", "证件",
    ),
    negative=("订单", "order", "流水", "单号", "交易号", "tracking", "serial", "sku", "uuid",
              "trace", "snowflake", "msg_id", "message id", "编号"),
    boost=0.08,
    penalty=0.25,
)  # fmt: skip


def check_char(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def region_ok(region: str) -> bool:
    """Structural GB/T 2260 check of a 6-digit region code (see module docstring)."""
    province, prefecture = region[:2], int(region[2:4])
    if province not in PROVINCES:
        return False
    if province in ("81", "82", "83"):
        return region in _PERMIT_REGIONS
    return 1 <= prefecture <= 70 or prefecture == 90


def birth_ok(yyyymmdd: str, latest: date) -> bool:
    """A real calendar date between 1900-01-01 and `latest`."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= latest


def is_valid(value: str, latest: date = date(2099, 12, 31)) -> bool:
    """True for a well-formed resident ID: region, birth date and check character."""
    digits = value.replace(" ", "").replace("-", "").upper()
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    return (
        region_ok(digits[:6])
        and birth_ok(digits[6:14], latest)
        and check_char(digits[:17]) == digits[17]
    )


class ResidentIdDetector:
    """Finds resident IDs; `latest_birth` bounds the birth date (pass today's date)."""

    types: tuple[FindingType, ...] = ("cn_resident_id",)
    anchors: tuple[str, ...] = ()

    def __init__(self, latest_birth: date = date(2099, 12, 31)) -> None:
        self._latest = latest_birth

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for m in in_runs(_PATTERN, text, ctx.digit_runs(text)):
            region, born, tail = m.group(1), m.group(3), m.group(4).upper()
            if not (region_ok(region) and birth_ok(born, self._latest)):
                continue
            if check_char(region + born + tail[:3]) != tail[3]:
                continue
            cue = CONTEXT.cue(text, m.start(), m.end())
            reason = "18-digit resident ID: MOD 11-2 check, region and birth date valid"
            if cue.word:
                reason += f"; {cue.describe()}"
            yield Finding("cn_resident_id", m.start(), m.end(), clamp(0.9 + cue.delta), reason)


__all__ = ["PROVINCES", "ResidentIdDetector", "check_char", "is_valid", "region_ok"]
