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
    as ints. `since` is inclusive and `until` exclusive, both on `started_at`.
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
    ]
    query = select(*groups, *sums).select_from(source)
    if account_id is not None:
        query = query.where(ev.account_id == account_id)
    if since is not None:
        query = query.where(ev.started_at >= since)
    if until is not None:
        query = query.where(ev.started_at < until)
    if groups:
        exprs = [_group_expr(store.dialect, key) for key in by]
        query = query.group_by(*exprs).order_by(*exprs)
    with store.transaction() as conn:
        result = conn.execute(query).mappings().all()
    metrics = ("requests", *TOKEN_COLUMNS, "estimated_requests")
    return [
        {**{key: row[key] for key in by}, **{m: int(row[m]) for m in metrics}}
        for row in result
        if int(row["requests"]) > 0  # an ungrouped query over nothing still yields a row
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
    "GROUP_KEYS",
    "TOKEN_COLUMNS",
    "aggregate",
    "count_events",
    "event_to_row",
    "events_by_request_ids",
]
