"""Shift this process's wall clock by `TOKENWARD_TEST_CLOCK_OFFSET_S` seconds.

Put this directory on `PYTHONPATH` of a child process (see `tests/helpers/clock_skew.py`):
Python imports `sitecustomize` at start-up, before any application code, and this one
moves `time.time`, `time.time_ns` and `tokenward.clock.SystemClock.now` forward (or
back, with a negative offset). Monotonic time is left alone, as a skewed NTP clock
would leave it. A stand-in for libfaketime, which needs root to install.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

_OFFSET = float(os.environ.get("TOKENWARD_TEST_CLOCK_OFFSET_S", "0") or 0)

if _OFFSET:
    _real_time, _real_time_ns = time.time, time.time_ns
    _shift = timedelta(seconds=_OFFSET)

    def _time() -> float:
        return _real_time() + _OFFSET

    def _time_ns() -> int:
        return _real_time_ns() + int(_OFFSET * 1_000_000_000)

    time.time = _time
    time.time_ns = _time_ns

    from tokenward import clock as _clock

    def _now(self: _clock.SystemClock) -> datetime:
        return datetime.now(UTC) + _shift

    _clock.SystemClock.now = _now  # type: ignore[method-assign]
