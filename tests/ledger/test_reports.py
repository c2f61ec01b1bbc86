"""usage_report on SQLite and PostgreSQL, checked against a Python reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.ledger.events import make_event
from tokenward.auth import service
from tokenward.clock import FakeClock
from tokenward.errors import InvalidRequest, NotFound
from tokenward.ledger import UsageEvent, usage_report
from tokenward.ledger.reports import METRICS, MONEY_COLUMNS
from tokenward.money import format_amount
from tokenward.storage import Store
from tokenward.storage.repos.event_sink import insert_batch

PLUS8 = timezone(timedelta(hours=8))


@pytest.fixture
def seeded(store: Store) -> tuple[Store, list[UsageEvent], dict[str, str]]:
    clock = FakeClock()
    ids = {name: service.create_account(store, name, clock=clock).id for name in ("alpha", "beta")}
    a, b = ids["alpha"], ids["beta"]
    events = [
        make_event(
            "r1",
            account_id=a,
            key_id="key_a1",
            model="m1",
            started_at=datetime(2026, 1, 1, 10, 15, tzinfo=UTC),
        ),
        make_event(
            "r2",
            account_id=a,
            key_id="key_a2",
            model="m2",
            input_tokens=20,
            output_tokens=7,
            reasoning_tokens=3,
            estimated=True,
            started_at=datetime(2026, 1, 1, 10, 45, tzinfo=UTC),
        ),
        make_event(
            "r3",
            account_id=a,
            key_id="key_a1",
            model="m1",
            input_tokens=30,
            started_at=datetime(2026, 1, 1, 11, 5, tzinfo=UTC),
        ),
        # 08:00 in UTC+8 is midnight UTC: it belongs to 2 January
        make_event(
            "r4",
            account_id=b,
            key_id="key_b1",
            model="m1",
            output_tokens=40,
            started_at=datetime(2026, 1, 2, 8, 0, tzinfo=PLUS8),
        ),
        # the config admin key has no account row: reported under its account id
        make_event(
            "r5",
            account_id="acc_config_admin",
            key_id="key_config_admin",
            model="m2",
            cached_input_tokens=0,
            cache_write_tokens=0,
            started_at=datetime(2026, 1, 2, 23, 59, 59, 999999, tzinfo=UTC),
        ),
    ]
    # priced events carry a cost and currency; r3 and r5 are unpriced (NULL cost)
    priced = {"r1": ("0.001250", "USD"), "r2": ("0.500000", "USD"), "r4": ("1.000001", "CNY")}
    events = [
        replace(e, cost=Decimal(priced[e.request_id][0]), currency=priced[e.request_id][1])
        if e.request_id in priced
        else e
        for e in events
    ]
    assert insert_batch(store, events) == [None] * len(events)
    names = {a: "alpha", b: "beta", "acc_config_admin": "acc_config_admin"}
    return store, events, names


def reference(
    events: Sequence[UsageEvent], by: Sequence[str], names: dict[str, str]
) -> list[dict[str, Any]]:
    """What the SQL must produce, computed the slow and obvious way."""

    def key_of(e: UsageEvent) -> tuple[str, ...]:
        utc = e.started_at.astimezone(UTC)
        values = {
            "model": e.model,
            "day": utc.strftime("%Y-%m-%d"),
            "hour": utc.strftime("%Y-%m-%dT%H:00Z"),
            "key": e.key_id,
            "account": names[e.account_id],
        }
        return tuple(values[k] for k in by)

    # per (group, currency); a group with one currency (unpriced '' aside) is one row
    sums: dict[tuple[tuple[str, ...], str], dict[str, Any]] = defaultdict(
        lambda: {**dict.fromkeys(METRICS, 0), "cost": Decimal(0)}
    )
    for e in events:
        row = sums[(key_of(e), e.currency)]
        row["requests"] += 1
        for name in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
        ):
            row[name] += getattr(e.usage, name)
        row["estimated_requests"] += int(e.usage.estimated)
        row["cost"] += e.cost or 0
    out = []
    for group in sorted({g for g, _ in sums}):
        parts = {cur: row for (g, cur), row in sums.items() if g == group}
        if len(set(parts) - {""}) > 1:
            split = sorted(parts.items())
        else:
            merged = {**dict.fromkeys(METRICS, 0), "cost": Decimal(0)}
            for row in parts.values():
                for name in merged:
                    merged[name] += row[name]
            split = [(max(parts), merged)]
        for currency, row in split:
            named = dict(zip(by, group, strict=True))
            out.append({**named, **row, "cost": format_amount(row["cost"]), "currency": currency})
    return out


@pytest.mark.parametrize(
    "by",
    [
        [],
        ["model"],
        ["day"],
        ["hour"],
        ["key"],
        ["account"],
        ["account", "model"],
        ["day", "key"],
        ["model", "hour"],
    ],
)
def test_grouping_matches_the_reference(
    seeded: tuple[Store, list[UsageEvent], dict[str, str]], by: list[str]
) -> None:
    store, events, names = seeded
    assert usage_report(store, None, None, None, by) == reference(events, by, names)


def test_rows_have_the_documented_shape(
    seeded: tuple[Store, list[UsageEvent], dict[str, str]],
) -> None:
    store, _, _ = seeded
    rows = usage_report(store, None, None, None, ["day", "hour"])
    assert [r["day"] for r in rows] == ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"]
    assert [r["hour"] for r in rows] == [
        "2026-01-01T10:00Z",
        "2026-01-01T11:00Z",
        "2026-01-02T00:00Z",
        "2026-01-02T23:00Z",
    ]
    assert list(rows[0]) == ["day", "hour", *METRICS, *MONEY_COLUMNS]
    assert all(type(v) is int for r in rows for k, v in r.items() if k in METRICS)


def test_since_is_inclusive_and_until_exclusive(
    seeded: tuple[Store, list[UsageEvent], dict[str, str]],
) -> None:
    store, events, names = seeded
    midnight = datetime(2026, 1, 2, tzinfo=UTC)
    after = usage_report(store, None, midnight, None, ["model"])
    assert after == reference([e for e in events if e.request_id in ("r4", "r5")], ["model"], names)
    before = usage_report(store, None, None, midnight, [])
    assert before == reference(events[:3], [], names)
    window = usage_report(
        store,
        None,
        datetime(2026, 1, 1, 10, 45, tzinfo=UTC),
        datetime(2026, 1, 1, 11, 5, tzinfo=UTC),
        ["key"],
    )
    assert window == reference([events[1]], ["key"], names)


def test_account_filter(seeded: tuple[Store, list[UsageEvent], dict[str, str]]) -> None:
    store, events, names = seeded
    rows = usage_report(store, "alpha", None, None, ["model"])
    assert rows == reference(events[:3], ["model"], names)
    assert usage_report(store, "beta", None, None, []) == reference([events[3]], [], names)


def test_nothing_matched_is_an_empty_list(store: Store) -> None:
    assert usage_report(store, None, None, None, []) == []
    assert usage_report(store, None, None, None, ["model", "day"]) == []


def test_bad_input(seeded: tuple[Store, list[UsageEvent], dict[str, str]]) -> None:
    store, _, _ = seeded
    with pytest.raises(NotFound, match="unknown account 'nobody'"):
        usage_report(store, "nobody", None, None, [])
    with pytest.raises(InvalidRequest, match="cannot group by 'week'"):
        usage_report(store, None, None, None, ["week"])
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="before"):
        usage_report(store, None, t, t, [])


def test_comma_separated_and_repeated_keys(
    seeded: tuple[Store, list[UsageEvent], dict[str, str]],
) -> None:
    store, events, names = seeded
    rows = usage_report(store, None, None, None, ["model,day", "model"])
    assert rows == reference(events, ["model", "day"], names)


def test_cost_is_split_by_currency_never_added(store: Store) -> None:
    """USD and CNY in one group become two rows; unpriced events join a lone currency."""
    t = datetime(2026, 3, 1, 9, tzinfo=UTC)
    events = [
        replace(make_event("u1", model="m", started_at=t), cost=Decimal("0.25"), currency="USD"),
        replace(make_event("u2", model="m", started_at=t), cost=Decimal("0.5"), currency="USD"),
        replace(make_event("c1", model="m", started_at=t), cost=Decimal("3"), currency="CNY"),
        make_event("n1", model="m", started_at=t),  # unpriced: cost NULL, currency ''
        replace(make_event("u3", model="solo", started_at=t), cost=Decimal("1"), currency="USD"),
        make_event("n2", model="solo", started_at=t),
    ]
    insert_batch(store, events)
    rows = usage_report(store, None, None, None, ["model"])
    assert [(r["model"], r["requests"], r["cost"], r["currency"]) for r in rows] == [
        ("m", 1, "0.000000", ""),
        ("m", 1, "3.000000", "CNY"),
        ("m", 2, "0.750000", "USD"),
        ("solo", 2, "1.000000", "USD"),
    ]
    totals = usage_report(store, None, None, None, [])
    assert [(r["requests"], r["cost"], r["currency"]) for r in totals] == [
        (2, "0.000000", ""),
        (1, "3.000000", "CNY"),
        (3, "1.750000", "USD"),
    ]
    assert all(isinstance(r["cost"], str) for r in rows + totals)
