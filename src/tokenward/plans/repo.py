"""SQL for plans, plan versions and subscriptions (the only module of `plans` that has any).

Every function runs in the caller's transaction. `lock_plan` is what makes seat
counting safe: on PostgreSQL it takes the plan row FOR UPDATE, so two subscribers
of one plan queue behind each other; on SQLite the write transaction (BEGIN
IMMEDIATE) already serialises every writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, func, insert, select, update

from tokenward.money import from_micros, to_micros
from tokenward.plans.model import PlanVersion, Status, Subscription, parse_terms
from tokenward.storage.repos._dialect import insert_or_ignore
from tokenward.storage.tables import accounts
from tokenward.storage.tables_plans import plan_versions, plans, subscriptions


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def insert_plan(conn: Connection, name: str, currency: str, at: datetime) -> bool:
    """Insert the plan row; False when the name is taken."""
    stmt = insert_or_ignore(conn, plans).values(name=name, currency=currency, created_at=at)
    return conn.execute(stmt.returning(plans.c.name)).first() is not None


def lock_plan(conn: Connection, name: str) -> str | None:
    """The plan's currency, with its row locked for the transaction (None: no such plan)."""
    stmt = select(plans.c.currency).where(plans.c.name == name)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar_one_or_none()


def plan_names(conn: Connection) -> list[str]:
    return list(conn.execute(select(plans.c.name).order_by(plans.c.name)).scalars())


def insert_version(conn: Connection, v: PlanVersion) -> None:
    t = v.terms
    data = t.as_input()
    conn.execute(
        insert(plan_versions).values(
            id=v.id,
            plan=v.plan,
            version=v.version,
            effective_from=v.effective_from,
            created_at=v.created_at,
            tier=t.tier,
            price=to_micros(t.price),
            periods=_dumps(data["periods"]),
            first_purchase_discount=data["first_purchase_discount"],
            quotas=_dumps(data["quotas"]),
            weights=_dumps(data["weights"]),
            models=_dumps(data["models"]),
            concurrency=t.concurrency,
            overage=t.overage,
            price_multiplier=data["price_multiplier"],
            max_subscribers=t.max_subscribers,
            daily_sales_cap=t.daily_sales_cap,
            grandfather=t.grandfather,
        )
    )


def versions(conn: Connection, plan: str) -> list[PlanVersion]:
    """Every version of `plan`, oldest first."""
    rows = conn.execute(
        select(plan_versions, plans.c.currency)
        .join(plans, plans.c.name == plan_versions.c.plan)
        .where(plan_versions.c.plan == plan)
        .order_by(plan_versions.c.version)
    ).all()
    return [_version(r._mapping) for r in rows]


def version_by_id(conn: Connection, vid: str) -> PlanVersion | None:
    row = conn.execute(
        select(plan_versions, plans.c.currency)
        .join(plans, plans.c.name == plan_versions.c.plan)
        .where(plan_versions.c.id == vid)
    ).first()
    return None if row is None else _version(row._mapping)


def in_force(history: list[PlanVersion], at: datetime) -> PlanVersion | None:
    """The version in force at `at`: the latest effective_from <= at (ties: the higher version)."""
    current = [v for v in history if v.effective_from <= at]
    return max(current, key=lambda v: (v.effective_from, v.version), default=None)


def _version(m: Any) -> PlanVersion:
    raw = {
        "tier": m["tier"],
        "price": from_micros(int(m["price"])),
        "periods": orjson.loads(m["periods"]),
        "first_purchase_discount": m["first_purchase_discount"],
        "quotas": orjson.loads(m["quotas"]),
        "weights": orjson.loads(m["weights"]),
        "models": orjson.loads(m["models"]),
        "concurrency": m["concurrency"],
        "overage": m["overage"],
        "price_multiplier": m["price_multiplier"],
        "max_subscribers": m["max_subscribers"],
        "daily_sales_cap": m["daily_sales_cap"],
        "grandfather": m["grandfather"],
    }
    return PlanVersion(
        plan=m["plan"],
        version=int(m["version"]),
        currency=m["currency"],
        effective_from=m["effective_from"],
        created_at=m["created_at"],
        terms=parse_terms(raw),
    )


def count_status(conn: Connection, plan: str, status: Status) -> int:
    stmt = select(func.count()).where(
        subscriptions.c.plan == plan, subscriptions.c.status == status
    )
    return int(conn.execute(stmt).scalar_one())


def count_sales(conn: Connection, plan: str, since: datetime, until: datetime) -> int:
    """Subscriptions of `plan` first activated in [since, until): the day's sales."""
    stmt = select(func.count()).where(
        subscriptions.c.plan == plan,
        subscriptions.c.activated_at >= since,
        subscriptions.c.activated_at < until,
    )
    return int(conn.execute(stmt).scalar_one())


def has_bought(conn: Connection, account_id: str, plan: str) -> bool:
    """Whether the account ever had an activated subscription to `plan`."""
    stmt = select(subscriptions.c.id).where(
        subscriptions.c.account_id == account_id,
        subscriptions.c.plan == plan,
        subscriptions.c.activated_at.is_not(None),
    )
    return conn.execute(stmt.limit(1)).first() is not None


def next_waitlist_seq(conn: Connection, plan: str) -> int:
    stmt = select(func.max(subscriptions.c.waitlist_seq)).where(subscriptions.c.plan == plan)
    return int(conn.execute(stmt).scalar_one() or 0) + 1


def insert_subscription(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert a live subscription; False when the account already has one."""
    stmt = insert_or_ignore(conn, subscriptions).values(live_account=values["account_id"], **values)
    return conn.execute(stmt.returning(subscriptions.c.id)).first() is not None


def update_subscription(conn: Connection, sub_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(subscriptions).where(subscriptions.c.id == sub_id).values(**values))


def _select() -> Any:
    return (
        select(subscriptions, accounts.c.name.label("account_name"), plans.c.currency)
        .join(accounts, accounts.c.id == subscriptions.c.account_id)
        .join(plans, plans.c.name == subscriptions.c.plan)
    )


def live_of(conn: Connection, account_id: str) -> Subscription | None:
    """The account's active or waitlisted subscription."""
    row = conn.execute(_select().where(subscriptions.c.live_account == account_id)).first()
    return None if row is None else _subscription(row._mapping)


def subscription(conn: Connection, sub_id: str) -> Subscription | None:
    row = conn.execute(_select().where(subscriptions.c.id == sub_id)).first()
    return None if row is None else _subscription(row._mapping)


def waitlisted(conn: Connection, plan: str) -> list[Subscription]:
    """The plan's waitlist in order (FIFO), with positions from 1."""
    rows = conn.execute(
        _select()
        .where(subscriptions.c.plan == plan, subscriptions.c.status == "waitlisted")
        .order_by(subscriptions.c.waitlist_seq)
    ).all()
    return [_subscription(r._mapping, position=i) for i, r in enumerate(rows, 1)]


def position_of(conn: Connection, plan: str, seq: int) -> int:
    stmt = select(func.count()).where(
        subscriptions.c.plan == plan,
        subscriptions.c.status == "waitlisted",
        subscriptions.c.waitlist_seq <= seq,
    )
    return int(conn.execute(stmt).scalar_one())


def plans_with_waitlist(conn: Connection) -> list[str]:
    stmt = (
        select(subscriptions.c.plan)
        .where(subscriptions.c.status == "waitlisted")
        .group_by(subscriptions.c.plan)
        .order_by(subscriptions.c.plan)
    )
    return list(conn.execute(stmt).scalars())


def due_ids(conn: Connection, at: datetime) -> list[str]:
    """Active subscriptions whose current period ended at or before `at`."""
    stmt = (
        select(subscriptions.c.id)
        .where(subscriptions.c.status == "active", subscriptions.c.period_end <= at)
        .order_by(subscriptions.c.period_end, subscriptions.c.id)
    )
    return list(conn.execute(stmt).scalars())


def _subscription(m: Any, position: int | None = None) -> Subscription:
    price = None if m["price"] is None else from_micros(int(m["price"]))
    return Subscription(
        id=m["id"],
        account_id=m["account_id"],
        account=m["account_name"],
        plan=m["plan"],
        plan_version=m["plan_version"],
        period=m["period"],
        status=cast(Status, m["status"]),
        requested_at=m["requested_at"],
        activated_at=m["activated_at"],
        period_index=int(m["period_index"]),
        period_start=m["period_start"],
        period_end=m["period_end"],
        price=price,
        currency=m["currency"],
        first_purchase=bool(m["first_purchase"]),
        canceled_at=m["canceled_at"],
        position=position,
    )


def terms_version(history: list[PlanVersion], held: str, at: datetime) -> PlanVersion | None:
    """The version whose terms (quotas, models...) a subscriber holding `held` gets at `at`.

    The held version, unless the version in force is a later one repriced with
    grandfather "none": then its terms apply to everyone at once.
    """
    current = in_force(history, at)
    mine = next((v for v in history if v.id == held), None)
    if current is not None and current.id != held and current.terms.grandfather == "none":
        return current
    return mine or current


__all__ = [
    "count_sales",
    "count_status",
    "due_ids",
    "has_bought",
    "in_force",
    "insert_plan",
    "insert_subscription",
    "insert_version",
    "live_of",
    "lock_plan",
    "next_waitlist_seq",
    "plan_names",
    "plans_with_waitlist",
    "position_of",
    "subscription",
    "terms_version",
    "update_subscription",
    "version_by_id",
    "versions",
    "waitlisted",
]
