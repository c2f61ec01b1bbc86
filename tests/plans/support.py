"""Helpers of the plans suite: accounts, a start time, and the plan fees in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select

from tokenward.auth import create_account
from tokenward.clock import FakeClock
from tokenward.money import from_micros
from tokenward.storage import Store
from tokenward.storage.tables_ledger import ledger_entries, ledger_transactions

#: a Monday, mid-afternoon UTC
START = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def accounts(store: Store, clock: FakeClock, *names: str) -> None:
    for name in names:
        create_account(store, name, clock=clock)


def fees(store: Store) -> list[dict[str, Any]]:
    """Every plan_fee transaction, oldest first: id, account id, amount and details."""
    with store.transaction() as conn:
        rows = conn.execute(
            select(ledger_transactions, ledger_entries.c.amount, ledger_entries.c.ledger_account)
            .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            .where(ledger_transactions.c.kind == "plan_fee", ledger_entries.c.direction == "debit")
            .order_by(ledger_transactions.c.at, ledger_transactions.c.id)
        ).all()
    return [
        {
            "id": r.id,
            "account_id": r.account_id,
            "debit": r.ledger_account,
            "amount": from_micros(int(r.amount)),
            "at": r.at,
            **orjson.loads(r.details),
        }
        for r in rows
    ]


def amount(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.000001"))
