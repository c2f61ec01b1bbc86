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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Dialect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from tokenward.storage.tables_ledger import ledger_accounts, ledger_transactions

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


def _insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on both databases, as one executemany."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def ensure_accounts(conn: Connection, names: Sequence[str], currency: str, at: datetime) -> None:
    """Create the ledger accounts that do not exist yet (idempotent, race-safe)."""
    rows = [
        {"id": n, "kind": kind_of(n), "owner": owner_of(n), "currency": currency, "created_at": at}
        for n in sorted(set(names))
    ]
    if rows:
        _insert_ignore(conn, ledger_accounts, rows)


def post(conn: Connection, tx: Transaction, *, applied: Sequence[Entry] = ()) -> bool:
    """Write `tx` in the caller's transaction; False (and nothing written) if its id exists.

    `applied` are entries of `tx` whose running totals the caller already moved (the
    conditional UPDATE of a credit reservation); their totals are not moved again.
    """
    return bool(post_many(conn, [tx], applied=applied))


def post_many(
    conn: Connection, txs: Sequence[Transaction], *, applied: Sequence[Entry] = ()
) -> list[Transaction]:
    """Write the transactions whose ids are new, in a few statements; those written.

    The id inserts come first: a concurrent poster of the same id blocks on them (or
    finds them), so entries are written at most once. Running totals are summed per
    ledger account and updated in account-id order, one UPDATE per account, so two
    batches lock rows in the same order (no deadlock on PostgreSQL). The statements
    are plain driver SQL (executemany and multi-row VALUES): settlement posts tens of
    thousands of transactions a second, and building SQLAlchemy parameters per row
    would cost more than the database does.
    """
    firsts: dict[str, Transaction] = {}
    for tx in txs:
        firsts.setdefault(tx.id, tx)  # one id twice in a batch: the first wins
    txs = list(firsts.values())
    if not txs:
        return []
    sql = _DriverSql.of(conn)
    raw = RawSql(conn)
    try:
        return _post_new(raw, sql, txs, applied)
    finally:
        raw.close()


def _post_new(
    raw: RawSql, sql: _DriverSql, txs: list[Transaction], applied: Sequence[Entry]
) -> list[Transaction]:
    created_ids = sql.insert_transactions(raw, txs)
    created = [tx for tx in txs if tx.id in created_ids]
    if applied and len(created) != len(txs):
        raise ValueError("entries were applied for a transaction that already exists")
    if not created:
        return []
    first_seen: dict[str, tuple[str, datetime]] = {}
    deltas: dict[str, list[int]] = {}
    entry_rows: list[tuple[str, str, str, int]] = []
    for tx in created:
        for e in tx.entries:
            if e.ledger_account not in first_seen:
                first_seen[e.ledger_account] = (tx.currency, tx.at)
                deltas[e.ledger_account] = [0, 0]
            deltas[e.ledger_account][e.direction == "credit"] += e.amount
            entry_rows.append((tx.id, e.ledger_account, e.direction, e.amount))
    for e in applied:
        deltas[e.ledger_account][e.direction == "credit"] -= e.amount
    missing = sorted(set(first_seen) - sql.existing_accounts(raw, list(first_seen)))
    if missing:
        to_time = sql.time
        raw.many(
            sql.insert_account,
            [(n, kind_of(n), owner_of(n), *_at(first_seen[n], to_time)) for n in missing],
        )
    raw.many(sql.insert_entry, entry_rows)
    moves = [(d, c, n) for n, (d, c) in sorted(deltas.items()) if d or c]
    if moves:
        raw.many(sql.move_totals, moves)
    return created


class RawSql:
    """Plain SQL on the DB-API cursor under a SQLAlchemy connection, in its transaction.

    Settlement runs a handful of statements per group commit, often for one or two
    events: SQLAlchemy's per-statement machinery (events, result wrapping) cost
    several times what SQLite needs, on the writer thread, under the GIL the event
    loop shares. Driver errors come back as SQLAlchemy's, as `Store` expects.
    """

    __slots__ = ("_conn", "_cursor")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """Execute once; the rows it returned (RETURNING, SELECT), or []."""
        try:
            self._cursor.execute(statement, tuple(params))
            return list(self._cursor.fetchall()) if self._cursor.description else []
        except self._conn.dialect.loaded_dbapi.Error as exc:
            raise self._wrap(statement, params, exc) from exc

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per row (executemany)."""
        try:
            self._cursor.executemany(statement, rows)
        except self._conn.dialect.loaded_dbapi.Error as exc:
            raise self._wrap(statement, rows, exc) from exc

    def close(self) -> None:
        self._cursor.close()

    def _wrap(self, statement: str, params: Any, exc: Exception) -> Exception:
        dbapi_error = self._conn.dialect.loaded_dbapi.Error
        return DBAPIError.instance(statement, params, exc, dbapi_error)


@dataclass(frozen=True, slots=True)
class _DriverSql:
    """The hot statements of `post_many` in the driver's own parameter style."""

    mark: str
    time: Callable[[datetime], Any]
    insert_account: str
    insert_entry: str
    move_totals: str

    @classmethod
    def of(cls, conn: Connection) -> _DriverSql:
        return _driver_sql(conn.dialect.name, conn.dialect)

    def insert_transactions(self, raw: RawSql, txs: Sequence[Transaction]) -> set[str]:
        """Multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING id: the ids that were new.

        RETURNING, not rowcount: the database says exactly which rows it inserted.
        """
        inserted: set[str] = set()
        to_time = self.time
        for start in range(0, len(txs), _ROWS_PER_INSERT):
            chunk = txs[start : start + _ROWS_PER_INSERT]
            params: list[Any] = []
            for tx in chunk:
                details = orjson.dumps(tx.details, default=str, option=orjson.OPT_SORT_KEYS)
                params += (tx.id, tx.kind, tx.account_id, tx.currency, to_time(tx.at))
                params.append(details.decode())
            result = raw.rows(_insert_tx_sql(self.mark, len(chunk)), params)
            inserted.update(row[0] for row in result)
        return inserted

    def existing_accounts(self, raw: RawSql, names: Sequence[str]) -> set[str]:
        """Which of `names` exist already (one SELECT per chunk; most do, after day one)."""
        found: set[str] = set()
        for start in range(0, len(names), _ROWS_PER_INSERT):
            chunk = names[start : start + _ROWS_PER_INSERT]
            marks = ", ".join([self.mark] * len(chunk))
            query = f"SELECT id FROM ledger_accounts WHERE id IN ({marks})"
            found.update(row[0] for row in raw.rows(query, chunk))
        return found


def time_binder(conn: Connection) -> Callable[[datetime], Any]:
    """How a UTC timestamp is bound on this connection's driver (for `RawSql`)."""
    return _DriverSql.of(conn).time


def sql_mark(conn: Connection) -> str:
    """The driver's parameter marker: '?' on SQLite, '%s' on PostgreSQL."""
    return _DriverSql.of(conn).mark


def _at(seen: tuple[str, datetime], to_time: Callable[[datetime], Any]) -> tuple[str, Any]:
    currency, at = seen
    return currency, to_time(at)


#: rows per multi-row INSERT: 6 parameters each, far below SQLite's 32,766
_ROWS_PER_INSERT = 1000


@lru_cache(maxsize=4)
def _driver_sql(name: str, dialect: Dialect) -> _DriverSql:
    mark = "?" if name == "sqlite" else "%s"
    process = ledger_transactions.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    return _DriverSql(
        mark=mark,
        time=process or (lambda at: at),
        insert_account=(
            "INSERT INTO ledger_accounts (id, kind, owner, currency, created_at)"
            f" VALUES ({', '.join([mark] * 5)}) ON CONFLICT (id) DO NOTHING"
        ),
        insert_entry=(
            "INSERT INTO ledger_entries (transaction_id, ledger_account, direction, amount)"
            f" VALUES ({', '.join([mark] * 4)})"
        ),
        move_totals=(
            f"UPDATE ledger_accounts SET debits_posted = debits_posted + {mark},"
            f" credits_posted = credits_posted + {mark} WHERE id = {mark}"
        ),
    )


@lru_cache(maxsize=64)
def _insert_tx_sql(mark: str, rows: int) -> str:
    row = f"({', '.join([mark] * 6)})"
    return (
        "INSERT INTO ledger_transactions (id, kind, account_id, currency, at, details)"
        f" VALUES {', '.join([row] * rows)} ON CONFLICT (id) DO NOTHING RETURNING id"
    )


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
    "RawSql",
    "Transaction",
    "balance",
    "credit_account",
    "ensure_accounts",
    "grants_account",
    "kind_of",
    "owner_of",
    "plan_revenue_account",
    "post",
    "post_many",
    "receivable_account",
    "reserved_account",
    "sql_mark",
    "time_binder",
    "transfer",
    "usage_revenue_account",
]
