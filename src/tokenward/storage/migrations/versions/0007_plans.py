"""Plans, their immutable versions, and subscriptions (active, waitlisted, canceled).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tokenward.storage.tables import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_plans"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False, server_default=""),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("periods", sa.String(), nullable=False),
        sa.Column("first_purchase_discount", sa.String(), nullable=False, server_default="0"),
        sa.Column("quotas", sa.String(), nullable=False, server_default="[]"),
        sa.Column("weights", sa.String(), nullable=False, server_default="{}"),
        sa.Column("models", sa.String(), nullable=False, server_default="[]"),
        sa.Column("concurrency", sa.Integer(), nullable=True),
        sa.Column("overage", sa.String(length=16), nullable=False),
        sa.Column("price_multiplier", sa.String(), nullable=False, server_default="1"),
        sa.Column("max_subscribers", sa.Integer(), nullable=True),
        sa.Column("daily_sales_cap", sa.Integer(), nullable=True),
        sa.Column("grandfather", sa.String(length=16), nullable=False),
        sa.CheckConstraint("price >= 0", name="ck_plan_versions_price_positive"),
        sa.CheckConstraint("overage IN ('block', 'credits')", name="ck_plan_versions_overage"),
        sa.CheckConstraint(
            "grandfather IN ('period_end', 'forever', 'none')",
            name="ck_plan_versions_grandfather",
        ),
        sa.ForeignKeyConstraint(["plan"], ["plans.name"], name="fk_plan_versions_plan_plans"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("plan", "version", name="uq_plan_versions_plan_version"),
    )
    op.create_index(
        "ix_plan_versions_plan_effective_from", "plan_versions", ["plan", "effective_from"]
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("plan_version", sa.String(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("live_account", sa.String(), nullable=True),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("waitlist_seq", sa.BigInteger(), nullable=True),
        sa.Column("activated_at", UtcDateTime(), nullable=True),
        sa.Column("period_index", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("period_start", UtcDateTime(), nullable=True),
        sa.Column("period_end", UtcDateTime(), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("first_purchase", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("canceled_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "period IN ('month', 'quarter', 'year')", name="ck_subscriptions_period"
        ),
        sa.CheckConstraint(
            "status IN ('active', 'waitlisted', 'canceled')", name="ck_subscriptions_status"
        ),
        sa.CheckConstraint("price IS NULL OR price >= 0", name="ck_subscriptions_price_positive"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_subscriptions_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(["plan"], ["plans.name"], name="fk_subscriptions_plan_plans"),
        sa.ForeignKeyConstraint(
            ["plan_version"],
            ["plan_versions.id"],
            name="fk_subscriptions_plan_version_plan_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint("live_account", name="uq_subscriptions_live_account"),
    )
    op.create_index("ix_subscriptions_account_id", "subscriptions", ["account_id"])
    op.create_index("ix_subscriptions_plan_status", "subscriptions", ["plan", "status"])
    op.create_index("ix_subscriptions_plan_activated_at", "subscriptions", ["plan", "activated_at"])
    op.create_index("ix_subscriptions_status_period_end", "subscriptions", ["status", "period_end"])


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("plan_versions")
    op.drop_table("plans")
