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
    PrimaryKeyConstraint,
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
    # capacity-pool priority tier ('' = none: the plan's or the configured default)
    Column("tier", String(32), nullable=False, server_default=""),
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
    # rating (pricing/rating.py): the cost at list price in micros (NULL: no price for
    # the model), the book's currency, the price version used, its time-of-day window
    # ('' outside any), and who pays: 'postpaid', 'prepaid', 'plan' (inside a plan's
    # quota, not charged per event) or 'none' (unpriced, or the admin's own traffic)
    Column("cost", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False, server_default=""),
    Column("price_version", String, nullable=False, server_default=""),
    Column("price_window", String, nullable=False, server_default=""),
    Column("billed_to", String(16), nullable=False, server_default="none"),
    Index("ix_usage_events_account_id_started_at", "account_id", "started_at"),
    Index("ix_usage_events_started_at", "started_at"),
)

# One row per (scope, scope id, model); '' as the model means "any model". The scope id
# is a key id, an account id, a plan name or a model name; no foreign keys, as plans
# have no table yet and model names live in the config file.
limit_rules = Table(
    "limit_rules",
    metadata,
    Column("scope", String(16), nullable=False),
    Column("scope_id", String, nullable=False),
    Column("model", String, nullable=False, server_default=""),
    Column("rpm", BigInteger, nullable=True),
    Column("tpm", BigInteger, nullable=True),
    Column("tpd", BigInteger, nullable=True),
    Column("concurrency", BigInteger, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "scope_id", "model", name="pk_limit_rules"),
    CheckConstraint("scope IN ('key', 'account', 'plan', 'model')", name="scope"),
    CheckConstraint(
        "(rpm IS NULL OR rpm > 0) AND (tpm IS NULL OR tpm > 0) AND (tpd IS NULL OR tpd > 0) "
        "AND (concurrency IS NULL OR concurrency > 0)",
        name="positive",
    ),
)

# The audit log (audit/chain.py): rows are inserted, never updated or deleted. `seq` is
# the chain order, assigned by the appender under a lock (not autoincrement), and
# `details` is the canonical JSON text the record's hash was computed over.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String, nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target", String, nullable=False),
    Column("details", String, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("seq > 0", name="seq_positive"),
)

# The money path's tables live beside their concerns and join this metadata on import.
from tokenward.storage import tables_ledger as _ledger  # noqa: E402
from tokenward.storage import tables_plans as _plans  # noqa: E402
from tokenward.storage import tables_pricing as _pricing  # noqa: E402

del _ledger, _plans, _pricing

__all__ = [
    "UtcDateTime",
    "accounts",
    "api_keys",
    "audit_log",
    "limit_rules",
    "metadata",
    "usage_events",
]
