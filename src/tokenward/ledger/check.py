"""`tokenward ledger check`: prove the ledger is internally consistent, from SQL alone.

Five properties, each a GROUP BY the database does in one pass:

1. every transaction balances (Σ debits == Σ credits, at least two entries, every
   entry in the transaction's currency);
2. every ledger account's stored running totals equal the sums of its entries;
3. the open holds of each account and currency add up to its `reserved:` balance;
4. no `reserved:` balance is below zero;
5. the usage events are the sub-ledger of usage revenue: per account and currency,
   the costs of the events billed pay-as-you-go (`prepaid`, `postpaid`) add up to
   the usage revenue the ledger booked from that account (I5: the invoice equals
   the sum of its events, and the ledger agrees). Checked for accounts that have
   usage events; postings made without any (a ledger import) have nothing to match.

Read-only: it reports problems, it never repairs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, literal, select

from tokenward.ledger.double_entry import reserved_account
from tokenward.money import format_amount, from_micros
from tokenward.storage.db import Store
from tokenward.storage.tables import usage_events
from tokenward.storage.tables_ledger import (
    credit_reservations,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
)

#: problems listed per property, at most; the count says how many there were
MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What `check_ledger` looked at and every problem it found (empty: consistent)."""

    transactions: int
    entries: int
    accounts: int
    open_holds: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transactions": self.transactions,
            "entries": self.entries,
            "accounts": self.accounts,
            "open_holds": self.open_holds,
            "problems": list(self.problems),
        }


def check_ledger(store: Store) -> LedgerReport:
    """Check the five properties in one read transaction (one consistent snapshot on PG)."""
    with store.transaction() as conn:
        problems = [
            *_capped(_unbalanced(conn)),
            *_capped(_totals_mismatch(conn)),
            *_capped(_holds_mismatch(conn)),
            *_capped(_events_mismatch(conn)),
        ]
        counts = conn.execute(
            select(
                *(
                    select(func.count()).select_from(table).scalar_subquery()
                    for table in (
                        ledger_transactions,
                        ledger_entries,
                        ledger_accounts,
                        credit_reservations,
                    )
                )
            )
        ).one()
    transactions, entries, accounts, holds = (int(n) for n in counts)
    return LedgerReport(transactions, entries, accounts, holds, problems=tuple(problems))


def _unbalanced(conn: Connection) -> Iterator[str]:
    e, t, a = ledger_entries.c, ledger_transactions.c, ledger_accounts.c
    debit = func.coalesce(func.sum(case((e.direction == "debit", e.amount), else_=0)), 0)
    credit = func.coalesce(func.sum(case((e.direction == "credit", e.amount), else_=0)), 0)
    foreign = func.coalesce(func.sum(case((a.currency != t.currency, 1), else_=0)), 0)
    count = func.count(e.id)
    rows = conn.execute(
        select(t.id, debit, credit, count, foreign)
        .select_from(
            ledger_transactions.outerjoin(ledger_entries, e.transaction_id == t.id).outerjoin(
                ledger_accounts, a.id == e.ledger_account
            )
        )
        .group_by(t.id)
        .having((debit != credit) | (count < 2) | (foreign > literal(0)))
        .order_by(t.id)
    ).all()
    for tx_id, debits, credits, entries, foreign_entries in rows:
        if debits != credits:
            yield f"transaction {tx_id} does not balance: debits {debits} != credits {credits}"
        if entries < 2:
            yield f"transaction {tx_id} has {entries} entries (needs at least 2)"
        if foreign_entries:
            yield f"transaction {tx_id} has {foreign_entries} entries in another currency"


def _totals_mismatch(conn: Connection) -> Iterator[str]:
    e, a = ledger_entries.c, ledger_accounts.c
    debit = func.coalesce(func.sum(case((e.direction == "debit", e.amount), else_=0)), 0)
    credit = func.coalesce(func.sum(case((e.direction == "credit", e.amount), else_=0)), 0)
    rows = conn.execute(
        select(a.id, a.debits_posted, a.credits_posted, debit, credit)
        .select_from(ledger_accounts.outerjoin(ledger_entries, e.ledger_account == a.id))
        .group_by(a.id, a.debits_posted, a.credits_posted)
        .having((a.debits_posted != debit) | (a.credits_posted != credit))
        .order_by(a.id)
    ).all()
    for name, stored_d, stored_c, sum_d, sum_c in rows:
        yield (
            f"account {name}: stored totals debits {stored_d} / credits {stored_c}"
            f" != entries debits {sum_d} / credits {sum_c}"
        )


def _holds_mismatch(conn: Connection) -> Iterator[str]:
    r, a = credit_reservations.c, ledger_accounts.c
    held = {
        (account, cur): int(total)
        for account, cur, total in conn.execute(
            select(r.account_id, r.currency, func.sum(r.amount)).group_by(r.account_id, r.currency)
        )
    }
    reserved = {
        (owner, cur): int(credits) - int(debits)
        for owner, cur, debits, credits in conn.execute(
            select(a.owner, a.currency, a.debits_posted, a.credits_posted).where(
                a.kind == "reserved"
            )
        )
    }
    for owner, cur in sorted(set(held) | set(reserved)):
        holds, booked = held.get((owner, cur), 0), reserved.get((owner, cur), 0)
        name = reserved_account(owner, cur)
        if booked < 0:
            yield f"account {name} is below zero: {_money(booked, cur)}"
        if holds != booked:
            yield (
                f"account {name} holds {_money(booked, cur)}"
                f" but the open holds add up to {_money(holds, cur)}"
            )


def _events_mismatch(conn: Connection) -> Iterator[str]:
    ev, t, e = usage_events.c, ledger_transactions.c, ledger_entries.c
    billed = {
        (account, cur): int(total)
        for account, cur, total in conn.execute(
            select(ev.account_id, ev.currency, func.sum(ev.cost))
            .where(ev.billed_to.in_(("prepaid", "postpaid")), ev.cost.is_not(None))
            .group_by(ev.account_id, ev.currency)
        )
    }
    booked = {
        (account, cur): int(total)
        for account, cur, total in conn.execute(
            select(t.account_id, t.currency, func.sum(e.amount))
            .select_from(ledger_entries.join(ledger_transactions, e.transaction_id == t.id))
            .where(
                t.kind.in_(("usage", "usage_batch")),
                e.direction == "credit",
                e.ledger_account.like("revenue:usage:%"),
            )
            .group_by(t.account_id, t.currency)
        )
    }
    # only accounts with usage events: postings made without events (imports, tests of
    # the ledger alone) have no sub-ledger to agree with
    for account, cur in sorted(billed):
        events, ledger = billed[(account, cur)], booked.get((account, cur), 0)
        if events != ledger:
            yield (
                f"account {account}: usage events cost {_money(events, cur)}"
                f" but the ledger booked {_money(ledger, cur)} of usage revenue"
            )


def _capped(problems: Iterator[str]) -> list[str]:
    listed: list[str] = []
    extra = 0
    for problem in problems:
        if len(listed) < MAX_LISTED:
            listed.append(problem)
        else:
            extra += 1
    if extra:
        listed.append(f"... and {extra} more like the above")
    return listed


def _money(micros: int, currency: str) -> str:
    return f"{format_amount(from_micros(micros))} {currency}"


__all__ = ["LedgerReport", "check_ledger"]
