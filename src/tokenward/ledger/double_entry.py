"""The double-entry core: balanced transactions of entries on named ledger accounts.

Every movement of money is a `Transaction` whose debits equal its credits, in one
currency, identified by an idempotency key (`usage:<request id>`, `grant:<id>`, ...):
posting the same id twice is a no-op, so a replayed settle never charges twice.
`post()` writes the transaction, its entries and the accounts' running totals in
the caller's database transaction, so they commit or vanish together.

The chart of accounts (amounts in micros, `money.py`):

| account                      | kind         | normal side | what it holds                      |
|------------------------------|--------------|-------------|------------------------------------|
| `credit:<account>:<CUR>`     | credit       | credit      | prepaid credit the customer may use |
| `reserved:<account>:<CUR>`   | reserved     | credit      | credit held by requests in flight  |
| `receivable:<account>:<CUR>` | receivable   | debit       | postpaid usage and plan fees owed  |
| `revenue:usage:<CUR>`        | revenue      | credit      | usage earned                       |
| `revenue:plan_fees:<CUR>`    | revenue      | credit      | subscription fees earned           |
| `funding:grants:<CUR>`       | funding      | debit       | where granted credit came from     |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tokenward.storage.tables_ledger import ledger_accounts, ledger_entries, ledger_transactions

Direction = Literal["debit", "credit"]
AccountKind = Literal["credit", "reserved", "receivable", "revenue", "funding"]

#: which side increases an account of each kind (for balances shown to people)
NORMAL_SIDE: dict[str, Direction] = {
    "credit": "credit",
    "reserved": "credit",
    "receivable": "debit",
    "revenue": "credit",
    "funding": "debit",
}


def credit_account(account_id: str, currency: str) -> str:
    return f"credit:{account_id}:{currency}"


def reserved_account(account_id: str, currency: str) -> str:
    return f"reserved:{account_id}:{currency}"


def receivable_account(account_id: str, currency: str) -> str:
    return f"receivable:{account_id}:{currency}"


def usage_revenue_account(currency: str) -> str:
    return f"revenue:usage:{currency}"


def plan_revenue_account(currency: str) -> str:
    return f"revenue:plan_fees:{currency}"


def grants_account(currency: str) -> str:
    return f"funding:grants:{currency}"


def kind_of(ledger_account: str) -> AccountKind:
    """The kind of a ledger account from its name (the prefix before the first ':')."""
    kind = ledger_account.split(":", 1)[0]
    if kind not in NORMAL_SIDE:
        raise ValueError(f"unknown ledger account {ledger_account!r}")
    return kind  # type: ignore[return-value]


def owner_of(ledger_account: str) -> str:
    """The customer account id of a per-customer ledger account, else ''."""
    kind, _, rest = ledger_account.partition(":")
    if kind in ("credit", "reserved", "receivable"):
        return rest.rsplit(":", 1)[0]
    return ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a transaction: `amount` micros debited or credited to an account."""

    ledger_account: str
    direction: Direction
    amount: int

    def __post_init__(self) -> None:
        if type(self.amount) is not int or self.amount <= 0:
            raise ValueError(f"an entry amount is a whole number of micros > 0: {self.amount!r}")
        if self.direction not in ("debit", "credit"):
            raise ValueError(f"direction must be debit or credit: {self.direction!r}")
        kind_of(self.ledger_account)


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced set of entries: Σ debits == Σ credits, one currency, >= 2 entries."""

    id: str
    kind: str
    currency: str
    at: datetime
    entries: tuple[Entry, ...]
    account_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.entries) < 2:
            raise ValueError(f"transaction {self.id} needs at least two entries")
        debits = sum(e.amount for e in self.entries if e.direction == "debit")
        credits = sum(e.amount for e in self.entries if e.direction == "credit")
        if debits != credits:
            raise ValueError(
                f"transaction {self.id} does not balance: debits {debits} != credits {credits}"
            )
        for entry in self.entries:
            if not entry.ledger_account.endswith(f":{self.currency}"):
                raise ValueError(f"entry {entry.ledger_account} is not in {self.currency}")


def transfer(
    tx_id: str,
    kind: str,
    *,
    debit: str,
    credit: str,
    amount: int,
    currency: str,
    at: datetime,
    account_id: str = "",
    details: dict[str, Any] | None = None,
) -> Transaction:
    """The common two-entry transaction: `amount` from `debit` to `credit`."""
    return Transaction(
        id=tx_id,
        kind=kind,
        currency=currency,
        at=at,
        entries=(Entry(debit, "debit", amount), Entry(credit, "credit", amount)),
        account_id=account_id,
        details=details or {},
    )


def _insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on both databases; the number of rows inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(list(rows)).on_conflict_do_nothing()
    return int(conn.execute(statement).rowcount or 0)


def ensure_accounts(conn: Connection, names: Sequence[str], currency: str, at: datetime) -> None:
    """Create the ledger accounts that do not exist yet (idempotent, race-safe)."""
    rows = [
        {"id": n, "kind": kind_of(n), "owner": owner_of(n), "currency": currency, "created_at": at}
        for n in dict.fromkeys(names)
    ]
    _insert_ignore(conn, ledger_accounts, rows)


def post(conn: Connection, tx: Transaction) -> bool:
    """Write `tx` in the caller's transaction; False (and nothing written) if its id exists.

    The id insert comes first: a concurrent poster of the same id blocks on it (or
    finds it), so the entries are written at most once.
    """
    created = _insert_ignore(
        conn,
        ledger_transactions,
        [
            {
                "id": tx.id,
                "kind": tx.kind,
                "account_id": tx.account_id,
                "currency": tx.currency,
                "at": tx.at,
                "details": orjson.dumps(tx.details, option=orjson.OPT_SORT_KEYS).decode(),
            }
        ],
    )
    if not created:
        return False
    ensure_accounts(conn, [e.ledger_account for e in tx.entries], tx.currency, tx.at)
    conn.execute(
        ledger_entries.insert(),
        [
            {
                "transaction_id": tx.id,
                "ledger_account": e.ledger_account,
                "direction": e.direction,
                "amount": e.amount,
            }
            for e in tx.entries
        ],
    )
    for entry in tx.entries:
        column = (
            ledger_accounts.c.debits_posted
            if entry.direction == "debit"
            else (ledger_accounts.c.credits_posted)
        )
        conn.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == entry.ledger_account)
            .values({column.name: column + entry.amount})
        )
    return True


def balance(conn: Connection, ledger_account: str) -> int:
    """The balance on the account's normal side, in micros (0 if it does not exist)."""
    row = conn.execute(
        select(ledger_accounts.c.debits_posted, ledger_accounts.c.credits_posted).where(
            ledger_accounts.c.id == ledger_account
        )
    ).first()
    if row is None:
        return 0
    debits, credits = int(row[0]), int(row[1])
    return (
        credits - debits if NORMAL_SIDE[kind_of(ledger_account)] == "credit" else debits - credits
    )


__all__ = [
    "NORMAL_SIDE",
    "AccountKind",
    "Direction",
    "Entry",
    "Transaction",
    "balance",
    "credit_account",
    "ensure_accounts",
    "grants_account",
    "kind_of",
    "owner_of",
    "plan_revenue_account",
    "post",
    "receivable_account",
    "reserved_account",
    "transfer",
    "usage_revenue_account",
]
