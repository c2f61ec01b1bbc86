"""Prepaid credit: grants, holds for requests in flight, their release and expiry.

A request reserves its worst-case cost before the upstream call (`reserve`) and
settles the exact cost afterwards (`settlement.post_usage_charges`). The check and
the take are ONE conditional UPDATE of the credit account's running totals, so no
two concurrent reservations can both spend the last of a balance, on SQLite
(writers serialised) and on PostgreSQL (the row lock re-evaluates the WHERE).
The balance goes below zero only by the `overdraft` a caller allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, and_, case, func, select

from tokenward.audit.admin import record_admin_action
from tokenward.clock import Clock
from tokenward.errors import InsufficientCredit, InvalidRequest, NotFound
from tokenward.ledger.double_entry import (
    RawSql,
    balance,
    credit_account,
    ensure_accounts,
    grants_account,
    post,
    post_many,
    reserved_account,
    sql_mark,
    time_binder,
    transfer,
)
from tokenward.ledger.holds import ID_CHUNK, CreditHold, release_tx, take_holds
from tokenward.ledger.settlement import UsageCharge, post_usage_batch, post_usage_charges
from tokenward.money import (
    CURRENCIES,
    check_currency,
    format_amount,
    from_micros,
    parse_amount,
    round_cost,
    to_micros,
)
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos.accounts import AccountRow
from tokenward.storage.tables_ledger import (
    credit_reservations,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
)

MAX_MEMO_LEN = 500


@dataclass(frozen=True, slots=True)
class CreditBalance:
    """One account's credit in one currency: `available + reserved == granted - spent`."""

    account_id: str
    currency: str
    available: Decimal
    reserved: Decimal
    granted: Decimal
    spent: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "currency": self.currency,
            "available": format_amount(self.available),
            "reserved": format_amount(self.reserved),
            "granted": format_amount(self.granted),
            "spent": format_amount(self.spent),
        }


def grant(
    store: Store,
    account: str,
    amount: object,
    currency: str,
    *,
    clock: Clock,
    actor: str,
    memo: str = "",
) -> CreditBalance:
    """Add `amount` of prepaid credit to `account` (a name or an id); audited.

    Bad input (`InvalidRequest`) and an unknown account (`NotFound`) write nothing.
    """
    value = parse_amount(amount, allow_zero=False)
    if round_cost(value) != value:
        raise InvalidRequest(f"'amount' has more than 6 decimal places: {amount!r}", param="amount")
    micros = to_micros(value)
    cur = check_currency(currency)
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_LEN:
        raise InvalidRequest(f"'memo' must be text of at most {MAX_MEMO_LEN} characters")
    now = clock.now()
    tx_id = f"grant:{uuid.uuid4()}"
    with store.transaction(write=True) as conn:
        row = find_account(conn, account)
        post(
            conn,
            transfer(
                tx_id,
                "grant",
                debit=grants_account(cur),
                credit=credit_account(row.id, cur),
                amount=micros,
                currency=cur,
                at=now,
                account_id=row.id,
                details={"amount": micros, "memo": memo, "actor": actor},
            ),
        )
        result = _balances(conn, row.id, [cur])[0]
    record_admin_action(
        store,
        clock,
        actor,
        "credits.grant",
        row.name,
        {"amount": format_amount(value), "currency": cur, "memo": memo, "transaction": tx_id},
    )
    return result


def balances(store: Store, account: str) -> list[CreditBalance]:
    """The credit of `account` (a name or an id) in every currency it has, by currency."""
    with store.transaction() as conn:
        row = find_account(conn, account)
        currencies = conn.execute(
            select(ledger_accounts.c.currency)
            .where(ledger_accounts.c.owner == row.id)
            .where(ledger_accounts.c.kind.in_(("credit", "reserved")))
            .distinct()
        ).scalars()
        return _balances(conn, row.id, sorted(currencies))


def find_account(conn: Connection, account: str) -> AccountRow:
    """The account named `account`, else the one with that id; `NotFound` otherwise."""
    if not isinstance(account, str) or not account:
        raise InvalidRequest("'account' must be a non-empty string", param="account")
    row = accounts_repo.get_by_name(conn, account) or accounts_repo.get_by_id(conn, account)
    if row is None:
        raise NotFound(f"unknown account {account!r}")
    return row


def reserve(
    conn: Connection,
    *,
    account_id: str,
    request_id: str,
    amount: int,
    currency: str,
    at: datetime,
    lease_s: float,
    overdraft: int = 0,
) -> CreditHold:
    """Hold `amount` micros of the account's credit for one request, in `conn`'s transaction.

    Refused with `InsufficientCredit` (nothing written) when the credit left after
    the hold would be below `-overdraft`. A hold of 0 is valid (and checks the same).
    """
    if type(amount) is not int or amount < 0:
        raise ValueError(f"a hold is whole micros >= 0, got {amount!r}")
    if type(overdraft) is not int or overdraft < 0:
        raise ValueError(f"overdraft is whole micros >= 0, got {overdraft!r}")
    if not lease_s > 0:
        raise ValueError(f"lease_s must be > 0, got {lease_s!r}")
    if currency not in CURRENCIES:
        raise ValueError(f"unknown currency {currency!r}")
    credit = credit_account(account_id, currency)
    if not _take(conn, credit, amount, overdraft):
        exists = conn.execute(
            select(ledger_accounts.c.id).where(ledger_accounts.c.id == credit)
        ).first()
        # no credit account yet: a balance of 0, enough if the overdraft covers it
        if exists is not None or amount > overdraft:
            available = balance(conn, credit)
            limit = f" (overdraft allowed {_money(overdraft, currency)})" if overdraft else ""
            raise InsufficientCredit(
                f"insufficient credit: this request may cost up to {_money(amount, currency)},"
                f" available balance {_money(available, currency)}{limit}"
            )
        if amount:
            ensure_accounts(conn, [credit, reserved_account(account_id, currency)], currency, at)
            if not _take(conn, credit, amount, overdraft):  # pragma: no cover - a race lost
                raise InsufficientCredit("insufficient credit: the balance changed; retry")
    hold = CreditHold(
        id=f"hold_{uuid.uuid4().hex}",
        request_id=request_id,
        account_id=account_id,
        currency=currency,
        amount=amount,
        expires_at=at + timedelta(seconds=lease_s),
    )
    bind_time, mark = time_binder(conn), sql_mark(conn)
    raw = RawSql(conn)
    try:
        raw.rows(
            "INSERT INTO credit_reservations"
            " (id, request_id, account_id, currency, amount, created_at, expires_at)"
            f" VALUES ({', '.join([mark] * 7)})",
            (
                hold.id,
                request_id,
                account_id,
                currency,
                amount,
                bind_time(at),
                bind_time(hold.expires_at),
            ),
        )
    finally:
        raw.close()
    if amount:
        tx = transfer(
            f"reserve:{hold.id}",
            "reserve",
            debit=credit,
            credit=reserved_account(account_id, currency),
            amount=amount,
            currency=currency,
            at=at,
            account_id=account_id,
            details={"request_id": request_id, "hold": amount},
        )
        post(conn, tx, applied=tx.entries[:1])  # the debit was moved by `_take`
    return hold


def reserve_credit(
    store: Store,
    *,
    account_id: str,
    request_id: str,
    amount: int,
    currency: str,
    at: datetime,
    lease_s: float,
    overdraft: int = 0,
) -> CreditHold:
    """`reserve` in its own write transaction."""
    with store.transaction(write=True) as conn:
        return reserve(
            conn,
            account_id=account_id,
            request_id=request_id,
            amount=amount,
            currency=currency,
            at=at,
            lease_s=lease_s,
            overdraft=overdraft,
        )


def release(store: Store, hold_id: str, *, at: datetime) -> bool:
    """Give a hold back to the credit (the request failed before any cost).

    False when the hold is already settled, released or swept.
    """
    with store.transaction(write=True) as conn:
        hold = take_holds(conn, [hold_id]).get(hold_id)
        if hold is None:
            return False
        tx = release_tx(hold, at, "released")
        if tx is not None:
            post(conn, tx)
    return True


def sweep_expired(store: Store, clock: Clock) -> int:
    """Release every hold past its `expires_at` (a leaked request); how many."""
    now, released = clock.now(), 0
    with store.transaction() as conn:  # the common case, nothing expired: no write lock
        if (
            conn.execute(
                select(credit_reservations.c.id)
                .where(credit_reservations.c.expires_at <= now)
                .limit(1)
            ).first()
            is None
        ):
            return 0
    while True:
        with store.transaction(write=True) as conn:
            ids = conn.execute(
                select(credit_reservations.c.id)
                .where(credit_reservations.c.expires_at <= now)
                .order_by(credit_reservations.c.expires_at)
                .limit(ID_CHUNK)
            ).scalars()
            found = list(ids)
            holds = take_holds(conn, found)
            txs = [release_tx(h, now, "expired") for h in holds.values()]
            post_many(conn, [tx for tx in txs if tx is not None])
        released += len(holds)
        if len(found) < ID_CHUNK:
            return released


def _take(conn: Connection, credit: str, amount: int, overdraft: int) -> bool:
    """The one conditional UPDATE: debit `amount` if the credit left stays >= -overdraft."""
    mark = sql_mark(conn)
    raw = RawSql(conn)
    try:
        taken = raw.rows(
            f"UPDATE ledger_accounts SET debits_posted = debits_posted + {mark}"
            f" WHERE id = {mark} AND credits_posted - debits_posted - {mark} >= {mark}"
            " RETURNING id",
            (amount, credit, amount, -overdraft),
        )
    finally:
        raw.close()
    return bool(taken)


def _balances(conn: Connection, account_id: str, currencies: Sequence[str]) -> list[CreditBalance]:
    """Balances from the running totals; granted and spent from the grant and usage entries."""
    names = {
        n: cur
        for cur in currencies
        for n in (credit_account(account_id, cur), reserved_account(account_id, cur))
    }
    e, t = ledger_entries.c, ledger_transactions.c
    signed = case((e.direction == "debit", e.amount), else_=-e.amount)
    flows = conn.execute(
        select(e.ledger_account, t.kind, func.sum(signed))
        .join(ledger_transactions, t.id == e.transaction_id)
        .where(and_(e.ledger_account.in_(list(names)), t.kind.in_(("grant", "usage"))))
        .group_by(e.ledger_account, t.kind)
    ).all()
    granted = dict.fromkeys(currencies, 0)
    spent = dict.fromkeys(currencies, 0)
    for name, kind, net_debit in flows:
        if kind == "grant":
            granted[names[name]] -= int(net_debit)
        else:
            spent[names[name]] += int(net_debit)
    return [
        CreditBalance(
            account_id=account_id,
            currency=cur,
            available=from_micros(balance(conn, credit_account(account_id, cur))),
            reserved=from_micros(balance(conn, reserved_account(account_id, cur))),
            granted=from_micros(granted[cur]),
            spent=from_micros(spent[cur]),
        )
        for cur in currencies
    ]


def _money(micros: int, currency: str) -> str:
    return f"{format_amount(from_micros(micros))} {currency}"


__all__ = [
    "CreditBalance",
    "CreditHold",
    "UsageCharge",
    "balances",
    "find_account",
    "grant",
    "post_usage_batch",
    "post_usage_charges",
    "release",
    "reserve",
    "reserve_credit",
    "sweep_expired",
]
