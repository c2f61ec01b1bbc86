"""The schema, one source for SQLite and PostgreSQL.

Migrations (`storage/migrations/versions/`) are written by hand from this module; a
test compares the migrated database with this metadata so the two cannot drift.
Every timestamp is stored as UTC through `UtcDateTime`, because SQLite keeps no time
zone and PostgreSQL answers in the session's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases (naive input is taken as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite stores text without an offset; writing UTC keeps the text sortable
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("billing_mode", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("billing_mode IN ('postpaid', 'prepaid')", name="billing_mode"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("account_id", String, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("role IN ('user', 'admin')", name="role"),
)

# No foreign keys here on purpose: the ledger of record must accept every event it is
# given (the config admin key has no account row), and accounts are never deleted.
usage_events = Table(
    "usage_events",
    metadata,
    Column("request_id", String, primary_key=True),
    Column("account_id", String, nullable=False),
    Column("key_id", String, nullable=False),
    Column("route", String, nullable=False),
    Column("model", String, nullable=False),
    Column("upstream_model", String, nullable=False),
    Column("deployment", String, nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("status", String, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("estimated", Boolean, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Index("ix_usage_events_account_id_started_at", "account_id", "started_at"),
    Index("ix_usage_events_started_at", "started_at"),
)

__all__ = ["UtcDateTime", "accounts", "api_keys", "metadata", "usage_events"]
