"""Credit holds: the reservation rows of requests in flight, and how one is given back.

Whoever deletes a hold's row owns it: settlement consumes it, `release` and the
expiry sweep give it back to the credit account. The delete is the gate
(`DELETE ... RETURNING`), so on PostgreSQL a settle racing the sweeper reverses a
hold exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenward.ledger.double_entry import (
    RawSql,
    Transaction,
    credit_account,
    reserved_account,
    transfer,
)
from tokenward.storage.tables_ledger import credit_reservations

#: chunk of ids per `IN (...)`: far below SQLite's and PostgreSQL's parameter limits
ID_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CreditHold:
    """Credit held by one request in flight; `amount` in micros."""

    id: str
    request_id: str
    account_id: str
    currency: str
    amount: int
    expires_at: datetime


def take_holds(conn: Connection, hold_ids: Sequence[str]) -> dict[str, CreditHold]:
    """Delete the holds that still exist and return them by id (the caller owns them now).

    Driver SQL, one DELETE ... RETURNING per chunk: settlement calls this per batch.
    """
    taken: dict[str, CreditHold] = {}
    unique = list(dict.fromkeys(hold_ids))
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    column_type = credit_reservations.c.expires_at.type.dialect_impl(conn.dialect)
    to_time: Callable[[Any], Any] = column_type.result_processor(conn.dialect, None) or (
        lambda value: value
    )
    raw = RawSql(conn)
    try:
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start : start + ID_CHUNK]
            statement = (
                f"DELETE FROM credit_reservations WHERE id IN ({', '.join([mark] * len(chunk))})"
                " RETURNING id, request_id, account_id, currency, amount, expires_at"
            )
            rows = raw.rows(statement, chunk)
            _take(rows, taken, to_time)
    finally:
        raw.close()
    return taken


def _take(rows: Sequence[Any], taken: dict[str, CreditHold], to_time: Callable[[Any], Any]) -> None:
    for hold_id, request_id, account_id, currency, amount, expires_at in rows:
        taken[hold_id] = CreditHold(
            hold_id,
            request_id,
            account_id,
            currency,
            int(amount),
            to_time(expires_at),
        )


def release_tx(hold: CreditHold, at: datetime, reason: str) -> Transaction | None:
    """The "release" transaction giving a taken hold back (None for a zero hold)."""
    if hold.amount <= 0:
        return None
    return transfer(
        f"release:{hold.id}",
        "release",
        debit=reserved_account(hold.account_id, hold.currency),
        credit=credit_account(hold.account_id, hold.currency),
        amount=hold.amount,
        currency=hold.currency,
        at=at,
        account_id=hold.account_id,
        details={"request_id": hold.request_id, "hold": hold.amount, "reason": reason},
    )


__all__ = ["ID_CHUNK", "CreditHold", "release_tx", "take_holds"]
