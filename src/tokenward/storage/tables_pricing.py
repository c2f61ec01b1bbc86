"""Schema of the price books (see `pricing/`).

A book is a name and a currency. Its versions are rows that are inserted, never
updated: `(book, effective_from)` is unique, and the id is derived from the two
(`openai@2026-11-01`). Prices are decimal STRINGS (`"2.50"`), not micros: a price
per million tokens needs more precision than a stored cost, and a string keeps it
exact on both databases. Time-of-day windows are a small JSON list on the version,
read and written by `pricing/repo.py` alone.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from tokenward.storage.tables import UtcDateTime, metadata

price_books = Table(
    "price_books",
    metadata,
    Column("name", String, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

price_versions = Table(
    "price_versions",
    metadata,
    Column("id", String, primary_key=True),
    Column("book", String, ForeignKey("price_books.name"), nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    Column("note", String, nullable=False, server_default=""),
    Column("windows", String, nullable=False, server_default="[]"),  # canonical JSON
    UniqueConstraint("book", "effective_from"),
)

# One row per priced model of a version, with where its prices come from.
price_models = Table(
    "price_models",
    metadata,
    Column("version_id", String, ForeignKey("price_versions.id"), nullable=False),
    Column("model", String, nullable=False),
    Column("source", String, nullable=False, server_default=""),
    PrimaryKeyConstraint("version_id", "model", name="pk_price_models"),
)

# One row per price: `kind` 'token' (per 1M tokens of a category) or 'unit' (per
# image, audio second...). The price is a decimal string, checked by the code.
price_rates = Table(
    "price_rates",
    metadata,
    Column("version_id", String, nullable=False),
    Column("model", String, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String, nullable=False),
    Column("price", String, nullable=False),
    PrimaryKeyConstraint("version_id", "model", "kind", "name", name="pk_price_rates"),
    ForeignKeyConstraint(
        ["version_id", "model"],
        ["price_models.version_id", "price_models.model"],
        name="fk_price_rates_version_id_price_models",
    ),
    CheckConstraint("kind IN ('token', 'unit')", name="kind"),
)

__all__ = ["price_books", "price_models", "price_rates", "price_versions"]
