"""Fixtures of the plans suite."""

from __future__ import annotations

import pytest

from tokenward.clock import FakeClock

from .support import START


@pytest.fixture
def clock() -> FakeClock:
    """Time stands still until a test moves it."""
    return FakeClock(START)
