"""SQL for usage events: the batched idempotent insert, look-ups and aggregation.

Every function takes the `Store` and runs in one transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, literal_column, select
from sqlalchemy.sql.expression import FromClause

from tokenward.ledger.model import EventStatus, UsageEvent
from tokenward.metering.usage import Usage
from tokenward.money import from_micros, to_micros
from tokenward.storage.db import Store
from tokenward.storage.tables import accounts, usage_events

#: bound parameters per IN (...) list, well under every driver's limit
_IN_CHUNK = 500
GROUP_KEYS = ("model", "day", "hour", "key", "account")
TOKEN_COLUMNS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def events_by_request_ids(store: Store, request_ids: Iterable[str]) -> list[UsageEvent]:
    """The stored events of `request_ids`, in that order; ids with no event are skipped."""
    wanted = list(dict.fromkeys(request_ids))
    with store.transaction() as conn:
        found = _fetch(conn, set(wanted))
    return [found[rid] for rid in wanted if rid in found]


def count_events(store: Store, account_id: str | None = None) -> int:
    """How many events are stored, for one account or all."""
    query = select(func.count()).select_from(usage_events)
    if account_id is not None:
        query = query.where(usage_events.c.account_id == account_id)
    with store.transaction() as conn:
        return int(conn.execute(query).scalar_one())


def aggregate(
    store: Store,
    *,
    by: Sequence[str],
    account_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Sums per group, grouped and ordered by `by` (a subset of `GROUP_KEYS`), in SQL.

    Each row has the group keys, `requests`, the token columns and `estimated_requests`
    as ints, then `cost` (a Decimal: the sum of the stored event costs, NULL costs
    adding nothing) and its `currency`. Amounts in different currencies are never
    added: a group whose events carry several currencies becomes one row per
    currency. `since` is inclusive and `until` exclusive, both on `started_at`.
    """
    unknown = [k for k in by if k not in GROUP_KEYS]
    if unknown:
        raise ValueError(f"unknown group keys: {unknown}")
    ev = usage_events.c
    source: FromClause = usage_events
    if "account" in by:
        source = usage_events.outerjoin(accounts, accounts.c.id == ev.account_id)
    groups = [_group_expr(store.dialect, key).label(key) for key in by]
    sums = [
        func.count().label("requests"),
        *(func.coalesce(func.sum(ev[name]), 0).label(name) for name in TOKEN_COLUMNS),
        func.coalesce(func.sum(case((ev.estimated, 1), else_=0)), 0).label("estimated_requests"),
        func.coalesce(func.sum(ev.cost), 0).label("cost_micros"),
    ]
    query = select(*groups, ev.currency.label("currency"), *sums).select_from(source)
    if account_id is not None:
        query = query.where(ev.account_id == account_id)
    if since is not None:
        query = query.where(ev.started_at >= since)
    if until is not None:
        query = query.where(ev.started_at < until)
    exprs = [_group_expr(store.dialect, key) for key in by]
    query = query.group_by(*exprs, ev.currency).order_by(*exprs, ev.currency)
    with store.transaction() as conn:
        result = conn.execute(query).mappings().all()
    rows = [
        {
            **{key: row[key] for key in by},
            **{m: int(row[m]) for m in _METRICS},
            "cost_micros": int(row["cost_micros"]),
            "currency": str(row["currency"]),
        }
        for row in result
    ]
    return [_with_cost(row) for row in _merge_currencies(rows, by)]


_METRICS = ("requests", *TOKEN_COLUMNS, "estimated_requests")


def _merge_currencies(rows: list[dict[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """One row per group unless the group holds several currencies (then one per currency).

    Unpriced events (currency '') join the group's one currency; rows arrive ordered
    by the group keys, so a group's currency rows are adjacent.
    """
    merged: list[dict[str, Any]] = []
    start = 0
    while start < len(rows):
        key = [rows[start][k] for k in by]
        end = start
        while end < len(rows) and [rows[end][k] for k in by] == key:
            end += 1
        group = rows[start:end]
        currencies = sorted({r["currency"] for r in group} - {""})
        if len(currencies) > 1:
            merged.extend(group)
        else:
            total = {**group[0], "currency": currencies[0] if currencies else ""}
            for name in (*_METRICS, "cost_micros"):
                total[name] = sum(r[name] for r in group)
            merged.append(total)
        start = end
    return merged


def _with_cost(row: dict[str, Any]) -> dict[str, Any]:
    micros = row.pop("cost_micros")
    currency = row.pop("currency")
    return {**row, "cost": from_micros(micros), "currency": currency}


#: who pays, on an invoice: charged (postpaid, prepaid) or included in a plan
BILLABLE = ("postpaid", "prepaid", "plan")


def invoice_usage(
    store: Store, *, account_id: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """An account's priced events in `[since, until)`, summed per invoice line.

    One row per (currency, model, price_version, price_window, included) with
    `requests`, the token columns and `cost_micros` (exact sum of stored costs), as
    ints, ordered by those keys; `included` is True for usage inside a plan's quota
    (billed_to 'plan'), False for charged usage (postpaid or prepaid). Unpriced
    events (currency '') and events nobody pays for (billed_to 'none') are left out.
    """
    ev = usage_events.c
    included = case((ev.billed_to == "plan", 1), else_=0)
    keys = [ev.currency, ev.model, ev.price_version, ev.price_window, included]
    query = (
        select(
            *keys[:-1],
            included.label("included"),
            func.count().label("requests"),
            *(func.coalesce(func.sum(ev[name]), 0).label(name) for name in TOKEN_COLUMNS),
            func.coalesce(func.sum(ev.cost), 0).label("cost_micros"),
        )
        .where(
            ev.account_id == account_id,
            ev.started_at >= since,
            ev.started_at < until,
            ev.currency != "",
            ev.billed_to.in_(BILLABLE),
        )
        .group_by(*keys)
        .order_by(*keys)
    )
    with store.transaction() as conn:
        result = conn.execute(query).mappings().all()
    names = ("currency", "model", "price_version", "price_window")
    counts = ("requests", *TOKEN_COLUMNS, "cost_micros")
    return [
        {
            **{n: str(r[n]) for n in names},
            "included": bool(r["included"]),
            **{c: int(r[c]) for c in counts},
        }
        for r in result
    ]


def provider_usage(
    store: Store, *, provider: str, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """Events sent to `provider` (deployment "<provider>/<model>"), per UTC day and model.

    One row per (day, deployment, currency) with `requests`, the token columns,
    `cost_micros` and `priced` (how many events had a cost) as ints, ordered by those
    keys; `since` inclusive, `until` exclusive.
    """
    ev = usage_events.c
    day = _group_expr(store.dialect, "day")
    query = select(
        day.label("day"),
        ev.deployment,
        ev.currency,
        func.count().label("requests"),
        *(func.coalesce(func.sum(ev[name]), 0).label(name) for name in TOKEN_COLUMNS),
        func.coalesce(func.sum(ev.cost), 0).label("cost_micros"),
        func.count(ev.cost).label("priced"),
    ).where(ev.deployment.startswith(f"{provider}/", autoescape=True))
    if since is not None:
        query = query.where(ev.started_at >= since)
    if until is not None:
        query = query.where(ev.started_at < until)
    query = query.group_by(day, ev.deployment, ev.currency).order_by(
        day, ev.deployment, ev.currency
    )
    with store.transaction() as conn:
        result = conn.execute(query).mappings().all()
    counts = ("requests", *TOKEN_COLUMNS, "cost_micros", "priced")
    return [
        {
            "day": str(r["day"]),
            "deployment": str(r["deployment"]),
            "currency": str(r["currency"]),
            **{c: int(r[c]) for c in counts},
        }
        for r in result
    ]


def _group_expr(dialect: str, key: str) -> ColumnElement[Any]:
    ev = usage_events.c
    if key == "model":
        return ev.model
    if key == "key":
        return ev.key_id
    if key == "account":
        # the configured admin key has no account row; show its account id instead
        return func.coalesce(accounts.c.name, ev.account_id)
    if dialect == "sqlite":  # started_at is stored as UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
        fmt = "'%Y-%m-%d'" if key == "day" else "'%Y-%m-%dT%H:00Z'"
        return func.strftime(literal_column(fmt), ev.started_at)
    # literal formats, not bound parameters: PostgreSQL must see GROUP BY == SELECT list
    fmt = "'YYYY-MM-DD'" if key == "day" else '\'YYYY-MM-DD"T"HH24":00Z"\''
    return func.to_char(func.timezone(literal_column("'UTC'"), ev.started_at), literal_column(fmt))


def _fetch(conn: Connection, request_ids: set[str]) -> dict[str, UsageEvent]:
    ids = sorted(request_ids)
    found: dict[str, UsageEvent] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        rows = conn.execute(select(usage_events).where(usage_events.c.request_id.in_(chunk)))
        for row in rows.mappings():
            found[row["request_id"]] = _from_row(row)
    return found


def event_to_row(event: UsageEvent) -> dict[str, Any]:
    """The column values of `event` (Python values; types bind them per dialect)."""
    usage = event.usage
    return {
        "request_id": event.request_id,
        "account_id": event.account_id,
        "key_id": event.key_id,
        "route": event.route,
        "model": event.model,
        "upstream_model": event.upstream_model,
        "deployment": event.deployment,
        "stream": event.stream,
        "status": str(event.status),
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "estimated": usage.estimated,
        "started_at": event.started_at,
        "finished_at": event.finished_at,
        "latency_ms": event.latency_ms,
        "http_status": event.http_status,
        "attempts": event.attempts,
        "cost": None if event.cost is None else to_micros(event.cost),
        "currency": event.currency,
        "price_version": event.price_version,
        "price_window": event.price_window,
        "billed_to": event.billed_to,
    }


def _from_row(row: Any) -> UsageEvent:
    return UsageEvent(
        request_id=row["request_id"],
        account_id=row["account_id"],
        key_id=row["key_id"],
        route=row["route"],
        model=row["model"],
        upstream_model=row["upstream_model"],
        deployment=row["deployment"],
        stream=bool(row["stream"]),
        status=EventStatus(row["status"]),
        usage=Usage(
            input_tokens=int(row["input_tokens"]),
            cached_input_tokens=int(row["cached_input_tokens"]),
            cache_write_tokens=int(row["cache_write_tokens"]),
            output_tokens=int(row["output_tokens"]),
            reasoning_tokens=int(row["reasoning_tokens"]),
            estimated=bool(row["estimated"]),
        ),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        latency_ms=float(row["latency_ms"]),
        http_status=int(row["http_status"]),
        attempts=int(row["attempts"]),
        cost=None if row["cost"] is None else from_micros(int(row["cost"])),
        currency=row["currency"],
        price_version=row["price_version"],
        price_window=row["price_window"],
        billed_to=row["billed_to"],
    )


__all__ = [
    "BILLABLE",
    "GROUP_KEYS",
    "TOKEN_COLUMNS",
    "aggregate",
    "count_events",
    "event_to_row",
    "events_by_request_ids",
    "invoice_usage",
    "provider_usage",
]
