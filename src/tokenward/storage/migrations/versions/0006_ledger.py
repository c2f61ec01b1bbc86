"""The double-entry ledger, credit reservations, and the cost of each usage event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tokenward.storage.tables import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("cost", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default=""))
        batch.add_column(sa.Column("price_version", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("price_window", sa.String(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("billed_to", sa.String(16), nullable=False, server_default="none")
        )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(), nullable=False, server_default=""),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0", name="ck_ledger_accounts_totals_positive"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
    )
    op.create_index("ix_ledger_accounts_owner", "ledger_accounts", ["owner"])
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False, server_default=""),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("details", sa.String(), nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transactions"),
    )
    op.create_index(
        "ix_ledger_transactions_account_id_at", "ledger_transactions", ["account_id", "at"]
    )
    op.create_index("ix_ledger_transactions_at", "ledger_transactions", ["at"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("ledger_account", sa.String(), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("direction IN ('debit', 'credit')", name="ck_ledger_entries_direction"),
        sa.CheckConstraint("amount > 0", name="ck_ledger_entries_amount_positive"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_ledger_entries_transaction_id_ledger_transactions",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_account"],
            ["ledger_accounts.id"],
            name="fk_ledger_entries_ledger_account_ledger_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"])
    op.create_index("ix_ledger_entries_ledger_account", "ledger_entries", ["ledger_account"])
    op.create_table(
        "credit_reservations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount >= 0", name="ck_credit_reservations_amount_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_credit_reservations"),
    )
    op.create_index("ix_credit_reservations_request_id", "credit_reservations", ["request_id"])
    op.create_index("ix_credit_reservations_expires_at", "credit_reservations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("credit_reservations")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_transactions")
    op.drop_table("ledger_accounts")
    with op.batch_alter_table("usage_events") as batch:
        for name in ("billed_to", "price_window", "price_version", "currency", "cost"):
            batch.drop_column(name)
