"""SQL of the price book: read every published version, insert new ones. Never update.

The tables are small (hundreds of rows), so readers load them whole; the catalog
indexes them in memory. Windows are kept as canonical JSON text on the version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, text

from tokenward.pricing.book import ModelPrice, PriceVersion, PriceWindow
from tokenward.pricing.document import window_dict
from tokenward.storage.tables_pricing import price_books, price_models, price_rates, price_versions
from tokenward.timewindows import DailyWindow


def lock_books(conn: Connection) -> None:
    """Serialise publishers until the transaction ends (readers are not blocked).

    SQLite's write transactions (BEGIN IMMEDIATE) are serialised already; on
    PostgreSQL two publishers could otherwise both pass the overlap and ownership
    checks before either commits.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE price_books IN EXCLUSIVE MODE"))


def load_books(conn: Connection) -> dict[str, str]:
    """Book name -> currency."""
    rows = conn.execute(select(price_books.c.name, price_books.c.currency))
    return {row.name: row.currency for row in rows}


def load_versions(conn: Connection) -> list[PriceVersion]:
    """Every published version of every book, with its model prices."""
    rates: dict[tuple[str, str], tuple[dict[str, Decimal], dict[str, Decimal]]] = {}
    for row in conn.execute(select(price_rates)):
        tokens, units = rates.setdefault((row.version_id, row.model), ({}, {}))
        (tokens if row.kind == "token" else units)[row.name] = Decimal(row.price)
    models: dict[str, dict[str, ModelPrice]] = {}
    for row in conn.execute(select(price_models)):
        tokens, units = rates.get((row.version_id, row.model), ({}, {}))
        models.setdefault(row.version_id, {})[row.model] = ModelPrice(
            row.model, tokens, units, row.source
        )
    query = select(price_versions, price_books.c.currency).join(
        price_books, price_books.c.name == price_versions.c.book
    )
    return [
        PriceVersion(
            id=row.id,
            book=row.book,
            currency=row.currency,
            effective_from=row.effective_from,
            published_at=row.published_at,
            models=models.get(row.id, {}),
            windows=_windows(row.windows),
            note=row.note,
        )
        for row in conn.execute(
            query.order_by(price_versions.c.book, price_versions.c.effective_from)
        )
    ]


def versions_fingerprint(conn: Connection) -> tuple[int, Any]:
    """(number of versions, newest publication): versions are only ever added, so an
    unchanged fingerprint means an unchanged catalog."""
    row = conn.execute(
        select(func.count(), func.max(price_versions.c.published_at)).select_from(price_versions)
    ).one()
    return int(row[0]), row[1]


def insert_book(conn: Connection, name: str, currency: str, at: datetime) -> None:
    conn.execute(insert(price_books).values(name=name, currency=currency, created_at=at))


def insert_version(conn: Connection, version: PriceVersion) -> None:
    """One version with all its prices (the caller's transaction makes it atomic)."""
    conn.execute(
        insert(price_versions).values(
            id=version.id,
            book=version.book,
            effective_from=version.effective_from,
            published_at=version.published_at,
            note=version.note,
            windows=windows_json(version.windows),
        )
    )
    conn.execute(
        insert(price_models),
        [
            {"version_id": version.id, "model": m.model, "source": m.source}
            for m in version.models.values()
        ],
    )
    rows = [
        {"version_id": version.id, "model": m.model, "kind": kind, "name": name, "price": f"{p:f}"}
        for m in version.models.values()
        for kind, prices in (("token", m.per_million), ("unit", m.units))
        for name, p in prices.items()
    ]
    if rows:
        conn.execute(insert(price_rates), rows)


def windows_json(windows: Iterable[PriceWindow]) -> str:
    return orjson.dumps([window_dict(w) for w in windows], option=orjson.OPT_SORT_KEYS).decode()


def _windows(raw: str) -> tuple[PriceWindow, ...]:
    items: list[dict[str, Any]] = orjson.loads(raw)
    return tuple(
        PriceWindow(
            w["name"],
            DailyWindow.parse(w["start"], w["end"], w["timezone"]),
            Decimal(w["multiplier"]),
            tuple(w["models"]),
        )
        for w in items
    )


__all__ = [
    "insert_book",
    "insert_version",
    "load_books",
    "load_versions",
    "lock_books",
    "windows_json",
]
