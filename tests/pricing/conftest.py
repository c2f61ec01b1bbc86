"""Helpers for the pricing tests: small price documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tokenward.config.schema import DatabaseSettings
from tokenward.storage import Store, migrate
from tokenward.storage.tables import audit_log
from tokenward.storage.tables_pricing import price_books, price_models, price_rates, price_versions


def doc(
    book: str = "acme",
    currency: str = "USD",
    *versions: dict[str, Any],
) -> dict[str, Any]:
    """A one-book price document."""
    return {"books": [{"name": book, "currency": currency, "versions": list(versions)}]}


def ver(effective_from: str, *models: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One version; `extra` adds note / windows."""
    return {"effective_from": effective_from, "models": list(models), **extra}


def mod(model: str, input: Any = "2", output: Any = "8", **extra: Any) -> dict[str, Any]:
    """One model's prices (decimal strings)."""
    return {"model": model, "input": input, "output": output, "source": "test", **extra}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store, for tests whose subject is not the database."""
    opened = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'prices.db'}"))
    migrate(opened)
    try:
        yield opened
    finally:
        opened.close()


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every pricing row and audit record, to prove a refused import wrote nothing."""
    tables = (price_books, price_versions, price_models, price_rates, audit_log)
    with store.transaction() as conn:
        return {
            t.name: sorted(tuple(map(str, row)) for row in conn.execute(select(t))) for t in tables
        }
