"""Daily time-of-day windows in a named time zone ("00:30-08:30 Asia/Shanghai").

Price books (off-peak discounts) and plans (peak-hour quota weights) both need
them. A window is half-open, `[start, end)`, in local wall time of its zone, and
may cross midnight (`22:00-06:00`); `start == end` is refused (ambiguous: never or
always). The server runs in UTC; every instant is converted to the window's zone
before comparing, so daylight-saving zones work as their clocks do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokenward.errors import InvalidRequest

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_hhmm(value: object, param: str) -> time:
    """'HH:MM' (24-hour) to a `time`."""
    if not isinstance(value, str) or not _HHMM.fullmatch(value.strip()):
        raise InvalidRequest(
            f"'{param}' must be a time of day as HH:MM, got {value!r}", param=param
        )
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def parse_zone(value: object, param: str = "timezone") -> ZoneInfo:
    """An IANA time zone name such as 'Asia/Shanghai' or 'UTC'."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' must be an IANA time zone name", param=param)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"unknown time zone {value!r}: expected an IANA name such as Asia/Shanghai",
            param=param,
        ) from None


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """Every day from `start` (inclusive) to `end` (exclusive), local time in `zone`."""

    start: time
    end: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidRequest(
                "a time-of-day window needs different start and end times", param="end"
            )

    @classmethod
    def parse(cls, start: object, end: object, zone: object) -> DailyWindow:
        return cls(parse_hhmm(start, "start"), parse_hhmm(end, "end"), parse_zone(zone))

    def contains(self, at: datetime) -> bool:
        """Whether the instant `at` (aware) falls inside the window."""
        if at.tzinfo is None:
            raise ValueError("DailyWindow.contains needs an aware datetime")
        local = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}"

    def as_dict(self) -> dict[str, str]:
        return {
            "start": f"{self.start:%H:%M}",
            "end": f"{self.end:%H:%M}",
            "timezone": self.zone.key,
        }


__all__ = ["DailyWindow", "parse_hhmm", "parse_zone"]
