"""`ip_address`: IPv4 and IPv6 host addresses, parsed by `ipaddress`, not version strings.

Candidates must parse as addresses. Loopback, unspecified, broadcast and reserved
addresses (`127.0.0.1`, `0.0.0.0`, `::1`, `255.255.255.0`) identify no machine and
are not reported. A dotted quad after "version", "v", "==", "section", "版本"... is
a version or section number: its score drops below the reporting threshold.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from tokenward.guard.context import ContextWords, clamp
from tokenward.guard.detectors.base import ScanContext, in_runs
from tokenward.guard.findings import Finding, FindingType

_V4 = re.compile(r"(?<![0-9A-Za-z_.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z_]|\.\d)")
_V6 = re.compile(
    r"(?<![0-9A-Za-z_:.])"
    r"(?:[0-9A-Fa-f]{1,4}:|::)(?:[0-9A-Fa-f]{0,4}:){1,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[0-9A-Za-z]+)?"
    r"(?![0-9A-Za-z_:.])"
)
#: Where an IPv6 address may be: "::" or two hex groups between colons (starts with a
#: literal, so `re` skips ahead fast; the candidate is then read from its start).
_V6_HINT = re.compile(r":(?::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)")
_V6_CHARS = frozenset("0123456789abcdefABCDEF:.%")
#: The longest IPv6 text form before a "::" (bounds the walk back from a hint).
_V6_REACH = 45

CONTEXT = ContextWords(
    positive=("ip", "ip地址", "host", "server", "服务器", "address", "地址", "ssh", "ping",
              "connect", "主机", "inet", "allow", "deny", "whitelist", "白名单"),
    negative=("version", "ver", "v", "版本", "版本号", "release", "build", "section", "chapter",
              "章节", "第", "step", "rfc", "oid", "==", ">=", "<=", "~=", "firmware", "§",
              "固件", "sdk", "api version"),
    boost=0.1,
    penalty=0.5,
)  # fmt: skip


def _reportable(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if addr.is_loopback or addr.is_unspecified or addr.is_reserved:
        return False
    return not (isinstance(addr, ipaddress.IPv4Address) and str(addr) == "255.255.255.255")


class IpAddressDetector:
    """Finds IPv4 and IPv6 host addresses."""

    types: tuple[FindingType, ...] = ("ip_address",)
    anchors: tuple[str, ...] = ()

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        if "." in text:
            for m in in_runs(_V4, text, ctx.digit_runs(text)):
                yield from self._finding(text, m.start(), m.end(), m.group(), "IPv4")
        last = 0
        for hint in _V6_HINT.finditer(text):
            start = hint.start()
            if start < last:
                continue
            floor = max(last, start - _V6_REACH)
            while start > floor and text[start - 1] in _V6_CHARS:
                start -= 1
            last = hint.start()  # never walk back over this stretch again
            v6 = _V6.match(text, start)
            if v6 is not None:
                last = v6.end()
                value = v6.group()
                if value.count(":") < 2 or ("::" not in value and value.count(":") != 7):
                    continue
                yield from self._finding(text, v6.start(), v6.end(), value.split("%")[0], "IPv6")

    def _finding(self, text: str, start: int, end: int, value: str, kind: str) -> Iterator[Finding]:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            return
        if not _reportable(addr):
            return
        cue = CONTEXT.cue(text, start, end)
        reason = f"{kind} address"
        if addr.is_private:
            reason += " (private network)"
        if cue.word:
            reason += f"; {cue.describe()}"
        yield Finding("ip_address", start, end, clamp(0.85 + cue.delta), reason)


__all__ = ["IpAddressDetector"]
