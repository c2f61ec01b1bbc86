"""SQL for the audit log: lock the chain head, read the last link, insert, read in order.

There is deliberately no update or delete here: the log is append-only, and
`audit.chain` is the only writer. Every function takes a `Connection` so the
appender can lock, read the head and insert in one transaction.

How two processes appending at once still form one chain:

- SQLite: the caller opens the transaction with `Store.transaction(write=True)`,
  which is BEGIN IMMEDIATE; the write lock is held from BEGIN, so the read of the
  head and the insert cannot interleave with another writer. `lock_chain` is a no-op.
- PostgreSQL: `lock_chain` takes a transaction-level advisory lock
  (`pg_advisory_xact_lock`), released by COMMIT or ROLLBACK. It needs no extra
  table or row, works on an empty log (where SELECT ... FOR UPDATE would have no row
  to lock), and is how `storage.migrate` serialises too. Under READ COMMITTED (the
  default) the SELECT that follows the lock sees every append committed before it.

Either way the primary key on `seq` is the backstop: a writer that skipped the lock
fails on a duplicate `seq` instead of forking the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from tokenward.storage.tables import audit_log

#: arbitrary constant shared by every Tokenward process: "tw" in ASCII, then 2
#: (storage.migrate uses ...0001)
_PG_AUDIT_LOCK = 0x7477_0002


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One row of `audit_log`, as stored; `details` is the JSON text."""

    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    hash: str


def lock_chain(conn: Connection) -> None:
    """Serialise appenders until this transaction ends (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})


def head(conn: Connection) -> tuple[int, str] | None:
    """(seq, hash) of the last record, or None when the log is empty."""
    found = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    return None if found is None else (int(found.seq), str(found.hash))


def insert_record(conn: Connection, row: AuditRow) -> None:
    """Insert `row`; a taken `seq` or `id` raises (it means the lock was bypassed)."""
    conn.execute(
        insert(audit_log).values(
            seq=row.seq,
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=row.details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
    )


def rows_after(conn: Connection, after: int, limit: int) -> list[AuditRow]:
    """Up to `limit` rows with `seq > after`, in seq order (one keyset page)."""
    query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
    return [_row(r._mapping) for r in conn.execute(query)]


def last_rows(conn: Connection, limit: int) -> list[AuditRow]:
    """The newest `limit` rows, oldest first."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    return [_row(r._mapping) for r in conn.execute(query)][::-1]


def count_rows(conn: Connection) -> int:
    """How many records the log holds."""
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _row(m: Any) -> AuditRow:
    return AuditRow(
        seq=int(m["seq"]),
        id=m["id"],
        at=m["at"],
        actor=m["actor"],
        action=m["action"],
        target=m["target"],
        details=m["details"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


__all__ = [
    "AuditRow",
    "count_rows",
    "head",
    "insert_record",
    "last_rows",
    "lock_chain",
    "rows_after",
]
