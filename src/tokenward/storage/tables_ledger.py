"""Schema of the double-entry ledger and credit reservations (see `ledger/double_entry.py`).

Amounts are integer micros (`money.py`). A ledger account row carries its running
`debits_posted` / `credits_posted` totals, updated in the same transaction as the
entries, so a balance is one row read and `tokenward ledger check` can prove that
every stored total equals the sum of its entries.
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
)

from tokenward.storage.tables import UtcDateTime, metadata

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String, primary_key=True),  # e.g. "credit:acc_123:USD"
    Column("kind", String(32), nullable=False),
    Column("owner", String, nullable=False, server_default=""),  # account id or ''
    Column("currency", String(3), nullable=False),
    Column("debits_posted", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="totals_positive"),
    Index("ix_ledger_accounts_owner", "owner"),
)

# One row per business transaction; the id is its idempotency key
# ("usage:<request id>", "grant:<id>", "reserve:<reservation id>", ...).
ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("account_id", String, nullable=False, server_default=""),  # the customer, or ''
    Column("currency", String(3), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("details", String, nullable=False, server_default="{}"),  # canonical JSON
    Index("ix_ledger_transactions_account_id_at", "account_id", "at"),
    Index("ix_ledger_transactions_at", "at"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    # INTEGER on SQLite so the id is the rowid (autoincrementing); BIGINT elsewhere
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column(
        "transaction_id",
        String,
        ForeignKey("ledger_transactions.id"),
        nullable=False,
        index=True,
    ),
    Column("ledger_account", String, ForeignKey("ledger_accounts.id"), nullable=False, index=True),
    Column("direction", String(6), nullable=False),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("direction IN ('debit', 'credit')", name="direction"),
    CheckConstraint("amount > 0", name="amount_positive"),
)

# Credit held by requests in flight; a row disappears on settle, release or expiry.
credit_reservations = Table(
    "credit_reservations",
    metadata,
    Column("id", String, primary_key=True),
    Column("request_id", String, nullable=False, index=True),
    Column("account_id", String, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    CheckConstraint("amount >= 0", name="amount_positive"),
)

__all__ = ["credit_reservations", "ledger_accounts", "ledger_entries", "ledger_transactions"]
