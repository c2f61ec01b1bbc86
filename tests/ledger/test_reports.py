"""usage_report on SQLite and PostgreSQL, checked against a Python reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.ledger.events import make_event
from tokenward.auth import service
from tokenward.clock import FakeClock
from tokenward.errors import InvalidRequest, NotFound
from tokenward.ledger import UsageEvent, usage_report
from tokenward.ledger.reports import METRICS
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

    sums: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))
    for e in events:
        row = sums[key_of(e)]
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
    return [{**dict(zip(by, k, strict=True)), **sums[k]} for k in sorted(sums)]


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
    assert list(rows[0]) == ["day", "hour", *METRICS]
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
