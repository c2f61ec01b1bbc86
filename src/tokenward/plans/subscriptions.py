"""Subscriptions: subscribe, cancel, the waitlist, and renewals, with their plan fees.

Rules (documented here because the CLI and the admin API only relay them):

- One live (active or waitlisted) subscription per account: subscribing again is a
  `Conflict`; cancel first to change plans.
- Seats: when a plan's active subscriptions reach `max_subscribers`, or its sales
  of the UTC day reach `daily_sales_cap`, or others already wait, the subscriber is
  put on the plan's waitlist (FIFO) and charged nothing. `cancel` and
  `promote_waitlist` activate waiters in order while seats and the day's cap allow;
  activation charges the fee then, at the price in force then.
- Fees: activating or renewing posts one ledger transaction, `plan_fee:<sub>:<n>`
  (n = period index), receivable -> revenue:plan_fees, in the same database
  transaction as the subscription's change, dated at the period's start; a zero
  price posts nothing. The id makes a replayed renewal a no-op.
- Cancel is effective immediately, with no refund of the current period.
- Renewal (`renew_due`) prices the new period by the version in force at its start,
  unless that version's grandfather policy is "forever" (the subscriber keeps the
  price they hold) or it does not offer their period (same). "period_end" and
  "none" both charge the new price from the next period; they differ in terms:
  under "none" the new version's quotas and models apply to everyone at once
  (`repo.terms_version`), under "period_end" only from the subscriber's renewal.

Concurrency: every change locks the plan row first (`repo.lock_plan`), so seats are
counted and taken under one lock on PostgreSQL, and SQLite serialises writers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tokenward.audit.admin import record_admin_action
from tokenward.clock import Clock
from tokenward.errors import Conflict, NotFound
from tokenward.ledger.double_entry import (
    plan_revenue_account,
    post,
    receivable_account,
    transfer,
)
from tokenward.money import format_amount, to_micros
from tokenward.plans import repo
from tokenward.plans.model import (
    PlanTerms,
    PlanVersion,
    Quote,
    Subscription,
    check_period,
    period_bounds,
)
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo

#: most periods one `renew_due` pass catches up per subscription (a gateway long off)
MAX_CATCH_UP = 1200


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What `cancel` did: the subscription ended and the waiters it let in."""

    canceled: Subscription
    promoted: tuple[Subscription, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "canceled": self.canceled.as_dict(),
            "promoted": [s.as_dict() for s in self.promoted],
        }


def subscribe(
    store: Store,
    account: str,
    plan: str,
    period: str = "month",
    *,
    clock: Clock,
    actor: str = "cli",
) -> Subscription:
    """Subscribe account `account` (a name) to `plan` for `period`: active and charged,
    or waitlisted (status "waitlisted", `position` and `note` say why)."""
    chosen = check_period(period)
    now = clock.now()
    with store.transaction(write=True) as conn:
        row = accounts_repo.get_by_name(conn, account)
        if row is None:
            raise NotFound(f"unknown account {account!r}")
        history = _locked_history(conn, plan)
        current = repo.in_force(history, now)
        if current is None:
            raise Conflict(
                f"plan {plan!r} is not on sale before {history[0].effective_from.isoformat()}"
            )
        current.terms.discount(chosen)  # refuses a period the plan does not sell
        held = repo.live_of(conn, row.id)
        if held is not None:
            raise _already(account, held)
        _promote(conn, plan, current, now)  # waiters first: nobody jumps the queue
        sub_id = "sub_" + secrets.token_hex(12)
        values: dict[str, Any] = {
            "id": sub_id,
            "account_id": row.id,
            "plan": plan,
            "plan_version": current.id,
            "period": chosen,
            "requested_at": now,
        }
        reason = _full(conn, plan, current.terms, now)
        if reason is None:
            values["status"] = "active"
        else:
            values.update(status="waitlisted", waitlist_seq=repo.next_waitlist_seq(conn, plan))
        if not repo.insert_subscription(conn, values):  # a concurrent subscribe won
            raise _already(account, repo.live_of(conn, row.id))
        if reason is None:
            _activate(conn, sub_id, current, now)
        sub = repo.subscription(conn, sub_id)
        assert sub is not None
        if reason is not None:
            position = repo.position_of(conn, plan, values["waitlist_seq"])
            sub = replace(
                sub, position=position, note=f"{reason}: waitlisted at position {position}"
            )
    record_admin_action(
        store, clock, actor, "plan.subscribe", account, {"plan": plan, **_brief(sub)}
    )
    return sub


def cancel(store: Store, account: str, *, clock: Clock, actor: str = "cli") -> Cancellation:
    """End `account`'s live subscription now (no refund) and let waiters in."""
    now = clock.now()
    with store.transaction(write=True) as conn:
        row = accounts_repo.get_by_name(conn, account)
        if row is None:
            raise NotFound(f"unknown account {account!r}")
        held = repo.live_of(conn, row.id)
        if held is None:
            raise NotFound(f"account {account!r} has no active or waitlisted subscription")
        history = _locked_history(conn, held.plan)
        held = repo.live_of(conn, row.id)  # again, under the plan's lock
        if held is None:
            raise NotFound(f"account {account!r} has no active or waitlisted subscription")
        repo.update_subscription(
            conn, held.id, {"status": "canceled", "canceled_at": now, "live_account": None}
        )
        canceled = replace(held, status="canceled", canceled_at=now)
        current = repo.in_force(history, now)
        promoted = _promote(conn, held.plan, current, now) if current else []
    record_admin_action(
        store,
        clock,
        actor,
        "plan.cancel",
        account,
        {"plan": held.plan, **_brief(canceled), "promoted": [s.account for s in promoted]},
    )
    return Cancellation(canceled, tuple(promoted))


def promote_waitlist(store: Store, clock: Clock, plan: str | None = None) -> list[Subscription]:
    """Activate waiters of every plan (or one) while seats and the day's caps allow.

    Run it on a timer: a daily sales cap frees up at 00:00 UTC without anyone canceling.
    """
    now = clock.now()
    with store.transaction() as conn:
        names = [plan] if plan is not None else repo.plans_with_waitlist(conn)
    promoted: list[Subscription] = []
    for name in names:
        with store.transaction(write=True) as conn:
            history = _locked_history(conn, name)
            current = repo.in_force(history, now)
            if current is not None:
                promoted += _promote(conn, name, current, now)
    return promoted


def renew_due(store: Store, clock: Clock) -> list[Subscription]:
    """Renew every active subscription whose period has ended, charging each new period.

    Idempotent: a subscription renewed by another runner is skipped, and a fee's
    ledger id is unique per period. Returns the subscriptions as renewed.
    """
    now = clock.now()
    with store.transaction() as conn:
        due = repo.due_ids(conn, now)
    renewed: list[Subscription] = []
    for sub_id in due:
        with store.transaction(write=True) as conn:
            sub = repo.subscription(conn, sub_id)
            if sub is None or sub.status != "active":
                continue
            history = _locked_history(conn, sub.plan)
            sub = repo.subscription(conn, sub_id)  # again, under the plan's lock
            if sub is None or sub.status != "active" or sub.period_end is None:
                continue
            changed = False
            for _ in range(MAX_CATCH_UP):
                if sub.period_end is None or sub.period_end > now:
                    break
                sub = _renew(conn, sub, history)
                changed = True
            if changed:
                renewed.append(sub)
    return renewed


def waitlist(store: Store, plan: str) -> list[Subscription]:
    """The plan's waitlist in order, positions from 1."""
    with store.transaction() as conn:
        if not repo.versions(conn, plan):
            raise NotFound(f"unknown plan {plan!r}")
        return repo.waitlisted(conn, plan)


def subscription_of(store: Store, account: str) -> Subscription | None:
    """The live subscription of account `account` (a name), if any."""
    with store.transaction() as conn:
        row = accounts_repo.get_by_name(conn, account)
        if row is None:
            raise NotFound(f"unknown account {account!r}")
        return repo.live_of(conn, row.id)


def _locked_history(conn: Connection, plan: str) -> list[PlanVersion]:
    if repo.lock_plan(conn, plan) is None:
        raise NotFound(f"unknown plan {plan!r}")
    return repo.versions(conn, plan)


def _already(account: str, held: Subscription | None) -> Conflict:
    if held is None:  # pragma: no cover - canceled between two statements of one lock
        return Conflict(f"account {account!r} changed its subscription concurrently; retry")
    return Conflict(
        f"account {account!r} already has a {held.status} subscription to plan "
        f"{held.plan!r}: cancel it first to change plans"
    )


def _full(
    conn: Connection, plan: str, terms: PlanTerms, now: datetime, *, queue: bool = True
) -> str | None:
    """Why a subscriber cannot be activated now (with `queue`: counting those who
    already wait), or None if a seat is free."""
    if terms.max_subscribers is not None:
        active = repo.count_status(conn, plan, "active")
        if active >= terms.max_subscribers:
            return f"plan {plan!r} is full ({active} of {terms.max_subscribers} seats taken)"
    if terms.daily_sales_cap is not None:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        sold = repo.count_sales(conn, plan, day, day + timedelta(days=1))
        if sold >= terms.daily_sales_cap:
            return (
                f"plan {plan!r} sold its {terms.daily_sales_cap} subscriptions for today "
                "(UTC); waiters are let in from the next day"
            )
    if queue and repo.count_status(conn, plan, "waitlisted"):
        return f"plan {plan!r} has a waitlist"
    return None


def _promote(
    conn: Connection, plan: str, current: PlanVersion, now: datetime
) -> list[Subscription]:
    """Activate the plan's waiters in order while `_full` allows; the caller holds the lock."""
    promoted: list[Subscription] = []
    for waiter in repo.waitlisted(conn, plan):
        if _full(conn, plan, current.terms, now, queue=False):
            break
        if waiter.period not in dict(current.terms.periods):
            continue  # no longer sold per their period: they keep their place
        promoted.append(_activate(conn, waiter.id, current, now))
    return promoted


def _activate(conn: Connection, sub_id: str, version: PlanVersion, now: datetime) -> Subscription:
    """Start period 0 of a new or waiting subscription at `now` and charge it."""
    sub = repo.subscription(conn, sub_id)
    assert sub is not None
    first = not repo.has_bought(conn, sub.account_id, sub.plan)
    quote = version.terms.quote(sub.period, first_purchase=first)
    start, end = period_bounds(now, sub.period, 0)
    repo.update_subscription(
        conn,
        sub_id,
        {
            "status": "active",
            "plan_version": version.id,
            "activated_at": now,
            "period_index": 0,
            "period_start": start,
            "period_end": end,
            "price": to_micros(quote.price),
            "first_purchase": int(first),
        },
    )
    _charge(conn, sub, version, 0, start, end, quote)
    activated = repo.subscription(conn, sub_id)
    assert activated is not None
    return activated


def _renew(conn: Connection, sub: Subscription, history: list[PlanVersion]) -> Subscription:
    """Move `sub` to its next period and charge it per the grandfather policy."""
    assert sub.activated_at is not None
    index = sub.period_index + 1
    start, end = period_bounds(sub.activated_at, sub.period, index)
    held = next(v for v in history if v.id == sub.plan_version)
    current = repo.in_force(history, start) or held
    offered = sub.period in dict(current.terms.periods)
    version = held if current.terms.grandfather == "forever" or not offered else current
    quote = version.terms.quote(sub.period, first_purchase=False)
    repo.update_subscription(
        conn,
        sub.id,
        {
            "plan_version": version.id,
            "period_index": index,
            "period_start": start,
            "period_end": end,
            "price": to_micros(quote.price),
            "first_purchase": 0,
        },
    )
    _charge(conn, sub, version, index, start, end, quote)
    renewed = repo.subscription(conn, sub.id)
    assert renewed is not None
    return renewed


def _charge(
    conn: Connection,
    sub: Subscription,
    version: PlanVersion,
    index: int,
    start: datetime,
    end: datetime,
    quote: Quote,
) -> None:
    """Post the period's fee (nothing for a free period), in the caller's transaction."""
    amount = to_micros(quote.price)
    if amount == 0:
        return
    cur = version.currency
    post(
        conn,
        transfer(
            f"plan_fee:{sub.id}:{index}",
            "plan_fee",
            debit=receivable_account(sub.account_id, cur),
            credit=plan_revenue_account(cur),
            amount=amount,
            currency=cur,
            at=start,
            account_id=sub.account_id,
            details={
                "plan": sub.plan,
                "plan_version": version.id,
                "subscription": sub.id,
                "period": sub.period,
                "period_index": index,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "list_price": format_amount(quote.list_price),
                "discounts": quote.discounts(),
                "price": format_amount(quote.price),
            },
        ),
    )


def _brief(sub: Subscription) -> dict[str, Any]:
    return {
        "subscription": sub.id,
        "status": sub.status,
        "period": sub.period,
        "plan_version": sub.plan_version,
        "price": None if sub.price is None else format_amount(sub.price),
    }


__all__ = [
    "Cancellation",
    "cancel",
    "promote_waitlist",
    "renew_due",
    "subscribe",
    "subscription_of",
    "waitlist",
]
