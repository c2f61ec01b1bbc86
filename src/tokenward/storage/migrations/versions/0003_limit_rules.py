"""Limit rules: requests/min, tokens/min, tokens/day and concurrency per scope and model.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tokenward.storage.tables import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_rules",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False, server_default=""),
        sa.Column("rpm", sa.BigInteger(), nullable=True),
        sa.Column("tpm", sa.BigInteger(), nullable=True),
        sa.Column("tpd", sa.BigInteger(), nullable=True),
        sa.Column("concurrency", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('key', 'account', 'plan', 'model')", name="ck_limit_rules_scope"
        ),
        sa.CheckConstraint(
            "(rpm IS NULL OR rpm > 0) AND (tpm IS NULL OR tpm > 0) AND (tpd IS NULL OR tpd > 0) "
            "AND (concurrency IS NULL OR concurrency > 0)",
            name="ck_limit_rules_positive",
        ),
        sa.PrimaryKeyConstraint("scope", "scope_id", "model", name="pk_limit_rules"),
    )


def downgrade() -> None:
    op.drop_table("limit_rules")
