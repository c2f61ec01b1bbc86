"""One scanner for the guard tests: it is stateless, so sharing it is safe and fast."""

from __future__ import annotations

import pytest

from tokenward.guard import Scanner


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    return Scanner()
