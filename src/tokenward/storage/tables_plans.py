"""Schema of plans, their immutable versions, and subscriptions (see `plans/`).

A plan row is only its name and currency, and the row a subscriber locks
(`SELECT ... FOR UPDATE` on PostgreSQL) so seats are counted under one lock. Its
terms live in `plan_versions`, one row per repricing, never updated. Prices are
integer micros (`money.py`); discount percents and weights are decimal strings
inside the JSON columns, which `plans/model.py` alone reads and writes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from tokenward.storage.tables import UtcDateTime, metadata

plans = Table(
    "plans",
    metadata,
    Column("name", String, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("id", String, primary_key=True),  # "<plan>@v<version>"
    Column("plan", String, ForeignKey("plans.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("tier", String, nullable=False, server_default=""),
    Column("price", BigInteger, nullable=False),  # per month, micros
    Column("periods", String, nullable=False),  # JSON {"month": "0", "quarter": "10"}
    Column("first_purchase_discount", String, nullable=False, server_default="0"),
    Column("quotas", String, nullable=False, server_default="[]"),  # JSON
    Column("weights", String, nullable=False, server_default="{}"),  # JSON
    Column("models", String, nullable=False, server_default="[]"),  # JSON globs
    Column("concurrency", Integer, nullable=True),
    Column("overage", String(16), nullable=False),
    Column("price_multiplier", String, nullable=False, server_default="1"),
    Column("max_subscribers", Integer, nullable=True),
    Column("daily_sales_cap", Integer, nullable=True),
    Column("grandfather", String(16), nullable=False),
    UniqueConstraint("plan", "version"),
    Index("ix_plan_versions_plan_effective_from", "plan", "effective_from"),
    CheckConstraint("price >= 0", name="price_positive"),
    CheckConstraint("overage IN ('block', 'credits')", name="overage"),
    CheckConstraint("grandfather IN ('period_end', 'forever', 'none')", name="grandfather"),
)

# `live_account` is the account id while the subscription is active or waitlisted and
# NULL afterwards: its unique constraint is "one live subscription per account" on
# both databases (NULLs never collide). `waitlist_seq` orders the waitlist (FIFO);
# `activated_at` is the first period's start, the anchor of every later period.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String, primary_key=True),
    Column("account_id", String, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("plan", String, ForeignKey("plans.name"), nullable=False),
    Column("plan_version", String, ForeignKey("plan_versions.id"), nullable=False),
    Column("period", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("live_account", String, nullable=True, unique=True),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("waitlist_seq", BigInteger, nullable=True),
    Column("activated_at", UtcDateTime, nullable=True),
    Column("period_index", Integer, nullable=False, server_default="0"),
    Column("period_start", UtcDateTime, nullable=True),
    Column("period_end", UtcDateTime, nullable=True),
    Column("price", BigInteger, nullable=True),  # charged for the current period, micros
    Column("first_purchase", Integer, nullable=False, server_default="0"),
    Column("canceled_at", UtcDateTime, nullable=True),
    Index("ix_subscriptions_plan_status", "plan", "status"),
    Index("ix_subscriptions_plan_activated_at", "plan", "activated_at"),
    Index("ix_subscriptions_status_period_end", "status", "period_end"),
    CheckConstraint("period IN ('month', 'quarter', 'year')", name="period"),
    CheckConstraint("status IN ('active', 'waitlisted', 'canceled')", name="status"),
    CheckConstraint("price IS NULL OR price >= 0", name="price_positive"),
)

__all__ = ["plan_versions", "plans", "subscriptions"]
