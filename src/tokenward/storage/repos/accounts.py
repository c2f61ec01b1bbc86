"""SQL for accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tokenward.storage.repos._dialect import insert_or_ignore
from tokenward.storage.tables import accounts


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One row of `accounts`."""

    id: str
    name: str
    billing_mode: str
    created_at: datetime


def insert_account(conn: Connection, row: AccountRow) -> bool:
    """Insert `row`; False (and nothing written) when the name or id is taken."""
    stmt = insert_or_ignore(conn, accounts).values(
        id=row.id, name=row.name, billing_mode=row.billing_mode, created_at=row.created_at
    )
    # RETURNING, not rowcount: psycopg forgets an INSERT's rowcount once SQLAlchemy
    # closes the cursor, so the returned row is the one portable answer
    return conn.execute(stmt.returning(accounts.c.id)).first() is not None


def get_by_name(conn: Connection, name: str) -> AccountRow | None:
    found = conn.execute(select(accounts).where(accounts.c.name == name)).first()
    return None if found is None else _row(found._mapping)


def get_by_id(conn: Connection, account_id: str) -> AccountRow | None:
    found = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    return None if found is None else _row(found._mapping)


def list_all(conn: Connection) -> list[AccountRow]:
    """Every account, by name."""
    rows = conn.execute(select(accounts).order_by(accounts.c.name)).all()
    return [_row(r._mapping) for r in rows]


def _row(m: Any) -> AccountRow:
    return AccountRow(
        id=m["id"], name=m["name"], billing_mode=m["billing_mode"], created_at=m["created_at"]
    )


__all__ = ["AccountRow", "get_by_id", "get_by_name", "insert_account", "list_all"]
