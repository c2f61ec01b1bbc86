"""`bank_card`: payment card numbers (16-19 digits), Luhn-valid with a real issuer prefix.

The issuer table covers UnionPay (62; the newer 81 range is left out because it
collides with Hong Kong and Macao residence-permit numbers), the old domestic 9558
range, Visa (16 or 19 digits), Mastercard (51-55 and 2221-2720), JCB, Discover,
Diners and Maestro. Amex (15 digits) is outside the 16-19 digit range by design.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenward.guard.context import ContextWords, clamp
from tokenward.guard.detectors.base import NUM_END, NUM_START, ScanContext, in_runs
from tokenward.guard.findings import Finding, FindingType

_PATTERN = re.compile(
    NUM_START
    + r"(?:\d{16,19}|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,3})?)"
    + NUM_END
    + r"(?![ -]\d)"
)

CONTEXT = ContextWords(
    positive=(
        "银行卡", "卡号", "信用卡", "储蓄卡", "借记卡", "银联", "账号", "对公账户", "开户",
        "card", "visa", "mastercard", "unionpay", "pan", "account number", "card_no",
        "card_number", "cardnumber", "credit card", "debit card", "账户",
    ),
    negative=(
        "订单", "order", "orders", "单号", "流水号", "交易号", "交易单号", "tracking", "物流",
        "快递", "invoice", "发票", "serial", "imei", "isbn", "transaction", "txn", "id",
        "身份证", "timestamp", "时间戳", "uuid", "snowflake", "nanoseconds", "编号",
    ),
    boost=0.15,
    penalty=0.45,
    neutral_field_penalty=0.35,
)  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by every card scheme."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def issuer(digits: str) -> str | None:
    """The card scheme whose prefix and length match `digits`, if any."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits.startswith("62") and 16 <= n <= 19:
        return "UnionPay"
    if digits.startswith("9558") and n == 19:
        return "UnionPay (9558)"
    if digits[0] == "4" and n in (16, 19):
        return "Visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "Mastercard"
    if 3528 <= four <= 3589:
        return "JCB"
    if digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649:
        return "Discover"
    if digits.startswith(("36", "38", "39")) or 300 <= int(digits[:3]) <= 305:
        return "Diners"
    if two in (50, 56, 57, 58) or digits.startswith(("6304", "6759", "6761", "6762", "6763")):
        return "Maestro"
    if digits.startswith("60"):
        return "UnionPay/RuPay (60)"
    return None


class BankCardDetector:
    """Finds card numbers: Luhn plus issuer prefix, scored with card/order context."""

    types: tuple[FindingType, ...] = ("bank_card",)
    anchors: tuple[str, ...] = ()

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for m in in_runs(_PATTERN, text, ctx.digit_runs(text)):
            digits = m.group().replace(" ", "").replace("-", "")
            if not 16 <= len(digits) <= 19:
                continue
            scheme = issuer(digits)
            if scheme is None or not luhn_ok(digits):
                continue
            cue = CONTEXT.cue(text, m.start(), m.end())
            reason = f"{len(digits)}-digit {scheme} card number, Luhn valid"
            if cue.word:
                reason += f"; {cue.describe()}"
            yield Finding("bank_card", m.start(), m.end(), clamp(0.8 + cue.delta), reason)


__all__ = ["BankCardDetector", "issuer", "luhn_ok"]
