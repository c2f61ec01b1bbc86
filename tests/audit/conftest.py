"""An `AuditLog` on the shared `store` fixture (SQLite and PostgreSQL), on a fake clock."""

from __future__ import annotations

import pytest

from tokenward.audit import AuditLog, GuardSecretCheck
from tokenward.clock import FakeClock
from tokenward.guard import Scanner
from tokenward.storage import Store


@pytest.fixture(scope="session")
def secret_check() -> GuardSecretCheck:
    """One compiled scanner for the session."""
    return GuardSecretCheck(Scanner())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def log(store: Store, clock: FakeClock, secret_check: GuardSecretCheck) -> AuditLog:
    # a small page, so verify() crosses page boundaries in every test
    return AuditLog(store, clock, secret_check=secret_check, page_size=7)
