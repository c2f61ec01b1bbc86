"""`cn_mobile`: mainland China mobile numbers, bare or with +86 / 0086 and separators.

Valid numbers are 11 digits on an allocated 3-digit prefix (13x-19x as assigned by
MIIT to China Mobile, Unicom, Telecom, Broadnet and the virtual operators; data-only
and IoT prefixes that carry 11-digit numbers included). Unallocated prefixes such as
140-144, 154, 160, 161, 163, 164, 168, 169, 179 and 194 are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenward.guard.context import ContextWords, clamp
from tokenward.guard.detectors.base import NUM_END, ScanContext, in_runs
from tokenward.guard.findings import Finding, FindingType

#: Allocated 11-digit mobile prefixes (MIIT numbering plan, as of 2024).
PREFIXES = frozenset(
    (
        "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
        "145", "146", "147", "148", "149", "150", "151", "152", "153", "155",
        "156", "157", "158", "159", "162", "165", "166", "167", "170", "171",
        "172", "173", "174", "175", "176", "177", "178", "180", "181", "182",
        "183", "184", "185", "186", "187", "188", "189", "190", "191", "192",
        "193", "195", "196", "197", "198", "199",
    )
)  # fmt: skip

_PATTERN = re.compile(
    r"(?<![0-9A-Za-z_+])(?<![0-9]\.)"
    r"(?P<cc>(?:\+|00)86[ -]?|\(\+?86\)[ -]?)?"
    r"(?P<p>1[3-9]\d)(?P<sep>[ -]?)(?P<a>\d{4})(?P=sep)(?P<b>\d{4})" + NUM_END + r"(?!@)"
)

CONTEXT = ContextWords(
    positive=(
        "手机", "手机号", "电话", "联系方式", "联系电话", "号码", "致电", "拨打", "短信", "微信",
        "mobile", "phone", "tel", "cell", "contact", "whatsapp", "wechat", "sms", "call",
        "telephone", "phone_number", "mobile_no", "联系人",
    ),
    negative=(
        "订单", "order", "orders", "单号", "流水", "timestamp", "时间戳", "bytes", "size",
        "字节", "ms", "id", "uid", "amount", "金额", "price", "count", "total", "编号",
        "serial", "序号", "qq", "nanoseconds", "ns", "秒", "毫秒", "元", "¥", "$",
    ),
    boost=0.2,
    penalty=0.45,
    neutral_field_penalty=0.3,
)  # fmt: skip


class MobileDetector:
    """Finds mainland mobile numbers on allocated prefixes."""

    types: tuple[FindingType, ...] = ("cn_mobile",)
    anchors: tuple[str, ...] = ()

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for m in in_runs(_PATTERN, text, ctx.digit_runs(text)):
            if m.group("p") not in PREFIXES:
                continue
            score, reason = 0.75, "11-digit mobile number on an allocated prefix"
            if m.group("cc"):
                score, reason = 0.95, reason + " with +86 country code"
            elif m.group("sep"):
                score += 0.1
            cue = CONTEXT.cue(text, m.start(), m.end())
            if cue.word:
                reason += f"; {cue.describe()}"
            yield Finding("cn_mobile", m.start(), m.end(), clamp(score + cue.delta), reason)


__all__ = ["PREFIXES", "MobileDetector"]
