"""What an invoice reads from the double-entry ledger: plan fees and credit applied.

Read-only SQL over `ledger_transactions` / `ledger_entries` (the writers live in
`ledger.double_entry`). Amounts are integer micros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, String, case, func, literal, select

from tokenward.ledger.double_entry import credit_account, reserved_account
from tokenward.storage.tables import usage_events
from tokenward.storage.tables_ledger import ledger_entries, ledger_transactions


@dataclass(frozen=True, slots=True)
class PlanFee:
    """One `plan_fee` transaction: what the plan's revenue account was credited."""

    id: str
    currency: str
    at: datetime
    details: dict[str, Any]
    amount: int


def plan_fees(conn: Connection, account_id: str, since: datetime, until: datetime) -> list[PlanFee]:
    """Every plan fee of the account posted in `[since, until)`, ordered by time then id."""
    tx, en = ledger_transactions.c, ledger_entries.c
    revenue = en.ledger_account.like("revenue:plan_fees:%")
    amount = func.coalesce(
        func.sum(case((revenue & (en.direction == "credit"), en.amount), else_=0)), 0
    )
    query = (
        select(tx.id, tx.currency, tx.at, tx.details, amount.label("amount"))
        .select_from(ledger_transactions.join(ledger_entries, en.transaction_id == tx.id))
        .where(
            tx.kind == "plan_fee",
            tx.account_id == account_id,
            tx.at >= since,
            tx.at < until,
        )
        .group_by(tx.id, tx.currency, tx.at, tx.details)
        .order_by(tx.at, tx.id)
    )
    return [
        PlanFee(
            id=row.id,
            currency=row.currency,
            at=row.at,
            details=_details(row.details),
            amount=int(row.amount),
        )
        for row in conn.execute(query)
    ]


def credits_applied(
    conn: Connection, account_id: str, currency: str, since: datetime, until: datetime
) -> int:
    """Micros the account's prepaid credit paid for this invoice's charges.

    The net outflow of `credit:` and `reserved:` in the usage transactions of the
    period's events (`usage:<request id>`) and in the period's plan fees. Reserve
    and release moves between the two accounts net to zero and are not counted.
    """
    tx, en, ev = ledger_transactions.c, ledger_entries.c, usage_events.c
    prepaid = [credit_account(account_id, currency), reserved_account(account_id, currency)]
    usage_ids = select(literal("usage:", String) + ev.request_id).where(
        ev.account_id == account_id, ev.started_at >= since, ev.started_at < until
    )
    outflow = case((en.direction == "debit", en.amount), else_=-en.amount)
    query = (
        select(func.coalesce(func.sum(outflow), 0))
        .select_from(ledger_entries.join(ledger_transactions, en.transaction_id == tx.id))
        .where(
            en.ledger_account.in_(prepaid),
            ((tx.kind == "usage") & tx.id.in_(usage_ids))
            | ((tx.kind == "plan_fee") & (tx.at >= since) & (tx.at < until)),
        )
    )
    return int(conn.execute(query).scalar_one())


def plan_fee_currencies(
    conn: Connection, account_id: str, since: datetime, until: datetime
) -> set[str]:
    """Currencies of the account's plan fees in `[since, until)`."""
    tx = ledger_transactions.c
    query = (
        select(tx.currency)
        .distinct()
        .where(tx.kind == "plan_fee", tx.account_id == account_id, tx.at >= since, tx.at < until)
    )
    return {str(c) for c in conn.execute(query).scalars()}


def _details(text: str) -> dict[str, Any]:
    parsed = orjson.loads(text or "{}")
    return parsed if isinstance(parsed, dict) else {}


__all__ = ["PlanFee", "credits_applied", "plan_fee_currencies", "plan_fees"]
