"""Settlement: the "usage" ledger transaction of each billed request, posted in batches.

The usage-event writer calls `post_usage_charges` inside its batch transaction, for
the events it has just inserted, so an event and its money commit or vanish together.
A batch costs a handful of statements whatever its size: one DELETE ... RETURNING
for the holds, then `post_many` (transaction ids, accounts, entries, and one UPDATE
per ledger account with its summed totals).

What a charge posts (amounts in micros; cost C, hold H):

| billed to | hold                | entries                                                       |
|-----------|---------------------|---------------------------------------------------------------|
| prepaid   | H >= C              | debit reserved H; credit revenue C; credit credit H - C        |
| prepaid   | H < C (low estimate)| debit reserved H; debit credit C - H; credit revenue C         |
| prepaid   | gone (expired)      | debit credit C; credit revenue C                              |
| postpaid  | -                   | debit receivable C; credit revenue C                          |

Zero amounts are left out and an all-zero charge posts nothing. A credit balance may
go below zero only by what one request's estimate was short.

The gateway's writer uses `post_usage_batch`: prepaid charges as above, one
transaction per request (each consumes its own hold), while postpaid charges are
summed into one "usage_batch" transaction per account and currency per batch: the
usage events are the sub-ledger that itemises them (each event carries its cost),
and the general ledger gets the summary, as accounting systems post a day's sales.
Exactly-once still holds: the writer passes only events its own insert created,
and the summary's id names the batch's first request id, which no later batch can
contain again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from tokenward.ledger.double_entry import (
    Entry,
    Transaction,
    credit_account,
    post_many,
    receivable_account,
    reserved_account,
    usage_revenue_account,
)
from tokenward.ledger.holds import CreditHold, release_tx, take_holds

BilledTo = Literal["prepaid", "postpaid"]


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """What one settled request costs, and who pays: `cost` in micros (>= 0).

    `details` go into the transaction for invoices (model, price_version,
    price_window...); cost, hold and billed_to are added by the settlement.
    """

    request_id: str
    account_id: str
    currency: str
    cost: int
    billed_to: BilledTo
    hold_id: str | None
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.cost) is not int or self.cost < 0:
            raise ValueError(f"a charge's cost is whole micros >= 0, got {self.cost!r}")
        if self.billed_to not in ("prepaid", "postpaid"):
            raise ValueError(f"billed_to must be prepaid or postpaid, got {self.billed_to!r}")
        if not self.request_id:
            raise ValueError("a charge needs its request id")


def usage_tx_id(request_id: str) -> str:
    """The idempotency key of a request's usage transaction."""
    return f"usage:{request_id}"


def post_usage_charges(conn: Connection, charges: Sequence[UsageCharge]) -> None:
    """Post the usage transactions of `charges` in the caller's transaction.

    Replays are no-ops (the transaction id exists); a hold consumed by a replay, or
    one of another account or currency, is given back with a "release" transaction.
    """
    if not charges:
        return
    wanted = [c.hold_id for c in charges if c.billed_to == "prepaid" and c.hold_id]
    holds = take_holds(conn, wanted) if wanted else {}
    usage: list[Transaction] = []
    used: list[tuple[Transaction, CreditHold]] = []  # usage transactions and their holds
    for charge in charges:
        hold = None
        if charge.billed_to == "prepaid" and charge.hold_id:
            hold = holds.pop(charge.hold_id, None)
        if hold is not None and (
            hold.account_id != charge.account_id or hold.currency != charge.currency
        ):
            holds[hold.id] = hold  # not this charge's: given back below
            hold = None
        tx = _usage_tx(charge, hold)  # None only when cost and hold are both 0
        if tx is not None:
            usage.append(tx)
            if hold is not None:
                used.append((tx, hold))
    posted = {id(tx) for tx in post_many(conn, usage)} if usage else set()
    # holds taken but not consumed by a new usage transaction go back to the credit
    leftovers = [*holds.values(), *(hold for tx, hold in used if id(tx) not in posted)]
    if leftovers:
        at = max(c.at for c in charges)
        releases = [release_tx(h, at, "settled elsewhere") for h in leftovers]
        post_many(conn, [tx for tx in releases if tx is not None])


def post_usage_batch(conn: Connection, charges: Sequence[UsageCharge]) -> None:
    """Post a writer batch: prepaid per request, postpaid summed per account and currency.

    Only for charges of events inserted by this very transaction (see the module
    docstring); `post_usage_charges` is the per-request form for any other caller.
    """
    prepaid = [c for c in charges if c.billed_to == "prepaid"]
    if prepaid:
        post_usage_charges(conn, prepaid)
    groups: dict[tuple[str, str], list[UsageCharge]] = {}
    for charge in charges:
        if charge.billed_to == "postpaid" and charge.cost:
            groups.setdefault((charge.account_id, charge.currency), []).append(charge)
    summaries = []
    for (account, currency), group in sorted(groups.items()):
        first = min(c.request_id for c in group)
        cost = sum(c.cost for c in group)
        summaries.append(
            Transaction(
                id=f"usage_batch:{first}",
                kind="usage_batch",
                currency=currency,
                at=max(c.at for c in group),
                entries=(
                    Entry(receivable_account(account, currency), "debit", cost),
                    Entry(usage_revenue_account(currency), "credit", cost),
                ),
                account_id=account,
                details={
                    "requests": len(group),
                    "first_request": first,
                    "last_request": max(c.request_id for c in group),
                    "cost": cost,
                },
            )
        )
    if summaries:
        post_many(conn, summaries)


def _usage_tx(charge: UsageCharge, hold: CreditHold | None) -> Transaction | None:
    cost, cur, account = charge.cost, charge.currency, charge.account_id
    held = hold.amount if hold is not None else 0
    entries: list[Entry] = []
    if charge.billed_to == "postpaid":
        if cost:
            entries.append(Entry(receivable_account(account, cur), "debit", cost))
    else:
        credit = credit_account(account, cur)
        if held:
            entries.append(Entry(reserved_account(account, cur), "debit", held))
        if held > cost:
            entries.append(Entry(credit, "credit", held - cost))
        elif cost > held:
            entries.append(Entry(credit, "debit", cost - held))
    if cost:
        entries.append(Entry(usage_revenue_account(cur), "credit", cost))
    if not entries:
        return None
    details = {
        **charge.details,
        "request_id": charge.request_id,
        "cost": cost,
        "hold": held,
        "hold_id": hold.id if hold is not None else None,
        "billed_to": charge.billed_to,
    }
    return Transaction(
        id=usage_tx_id(charge.request_id),
        kind="usage",
        currency=cur,
        at=charge.at,
        entries=tuple(entries),
        account_id=account,
        details=details,
    )


__all__ = ["BilledTo", "UsageCharge", "post_usage_batch", "post_usage_charges", "usage_tx_id"]
