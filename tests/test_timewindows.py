from datetime import UTC, datetime

import pytest

from tokenward.errors import InvalidRequest
from tokenward.timewindows import DailyWindow


def test_off_peak_in_shanghai_from_utc_instants() -> None:
    window = DailyWindow.parse("00:30", "08:30", "Asia/Shanghai")  # UTC+8: 16:30-00:30 UTC
    assert not window.contains(datetime(2026, 3, 1, 16, 29, 59, tzinfo=UTC))
    assert window.contains(datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    assert window.contains(datetime(2026, 3, 2, 0, 29, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 3, 2, 0, 30, tzinfo=UTC))


def test_a_window_may_cross_midnight() -> None:
    window = DailyWindow.parse("22:00", "06:00", "UTC")
    assert window.contains(datetime(2026, 1, 1, 23, 0, tzinfo=UTC))
    assert window.contains(datetime(2026, 1, 1, 5, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))
    assert window.describe() == "22:00-06:00 UTC"


@pytest.mark.parametrize(
    ("start", "end", "zone"),
    [
        ("24:00", "01:00", "UTC"),
        ("1:00", "02:00", "UTC"),
        ("01:00", "01:00", "UTC"),
        ("01:00", "02:00", "Mars/Olympus"),
    ],
)
def test_bad_windows_are_clear_errors(start: str, end: str, zone: str) -> None:
    with pytest.raises(InvalidRequest):
        DailyWindow.parse(start, end, zone)
