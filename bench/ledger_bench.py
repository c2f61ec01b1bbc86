"""Settlement micro-benchmark: usage charges posted per second by `post_usage_charges`.

    .venv/bin/python bench/ledger_bench.py                  # SQLite, and PostgreSQL if initdb
    .venv/bin/python bench/ledger_bench.py --pg-url postgresql://u@host/db -n 51200

Each batch of 512 charges is one write transaction (BEGIN IMMEDIATE on SQLite, a WAL
file in a temporary directory), as the usage-event writer runs it; the time includes
the commit. Two mixes over 1,000 customer accounts: postpaid (2 entries per charge)
and prepaid settling a live hold for less than it held (3 entries per charge, the
hold row deleted). The holds are made beforehand and not timed. PostgreSQL runs on a
private server started like the test suite's (`tests/conftest.py`), fsync off.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.conftest

from tokenward.config.schema import DatabaseSettings
from tokenward.ledger.credits import (
    CreditHold,
    UsageCharge,
    post_usage_batch,
    post_usage_charges,
    reserve,
    reserve_credit,
)
from tokenward.ledger.double_entry import credit_account, grants_account, post, transfer
from tokenward.ledger.model import EventStatus, UsageEvent
from tokenward.metering.usage import Usage
from tokenward.storage import Store, migrate
from tokenward.storage.repos.event_sink import EventSink

BATCH = 512
ACCOUNTS = 1000
AT = datetime(2026, 3, 1, tzinfo=UTC)


def fund(store: Store) -> None:
    with store.transaction(write=True) as conn:
        for a in range(ACCOUNTS):
            post(
                conn,
                transfer(
                    f"grant:{uuid.uuid4()}",
                    "grant",
                    debit=grants_account("USD"),
                    credit=credit_account(f"acc_{a}", "USD"),
                    amount=10**12,
                    currency="USD",
                    at=AT,
                    account_id=f"acc_{a}",
                ),
            )


def make_holds(store: Store, n: int) -> list[CreditHold]:
    holds = []
    with store.transaction(write=True) as conn:
        for i in range(n):
            holds.append(
                reserve(
                    conn,
                    account_id=f"acc_{i % ACCOUNTS}",
                    request_id=f"pre-{i}",
                    amount=50_000,
                    currency="USD",
                    at=AT,
                    lease_s=3600,
                )
            )
    return holds


def charges_for(mix: str, n: int, holds: list[CreditHold]) -> list[UsageCharge]:
    details = {"model": "sim-small", "price_version": "v1", "price_window": ""}
    if mix == "postpaid":
        return [
            UsageCharge(
                f"post-{i}",
                f"acc_{i % ACCOUNTS}",
                "USD",
                1_234 + i % 97,
                "postpaid",
                None,
                AT,
                details,
            )
            for i in range(n)
        ]
    return [
        UsageCharge(
            h.request_id, h.account_id, "USD", 31_000 + i % 97, "prepaid", h.id, AT, details
        )
        for i, h in enumerate(holds)
    ]


def run(store: Store, mix: str, n: int) -> float:
    holds = make_holds(store, n) if mix == "prepaid" else []
    charges = charges_for(mix, n, holds)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        with store.transaction(write=True) as conn:
            post_usage_charges(conn, charges[start : start + BATCH])
    return n / (time.perf_counter() - started)


@contextmanager
def bench_postgres() -> Iterator[str | None]:
    """The test suite's private server (tests/helpers/postgres.py), or None."""
    from tests.helpers.postgres import pg_bindir, private_postgres

    if pg_bindir() is None:
        yield None
        return
    with private_postgres() as url:
        yield url


def events_with_charges(store: Store, n: int) -> float:
    """The writer's whole settle: usage events + their postpaid charges, one transaction
    per batch of 512 (`EventSink.insert_batch`), events per second."""
    sink = EventSink(store, post_usage_batch)
    events = [
        UsageEvent(
            request_id=f"ev-{i}",
            account_id=f"acc_{i % ACCOUNTS}",
            key_id="key_bench",
            route="chat.completions",
            model="sim-small",
            upstream_model="sim-small",
            deployment="sim/sim-small",
            stream=False,
            status=EventStatus.OK,
            usage=Usage(input_tokens=120, output_tokens=80),
            started_at=AT,
            finished_at=AT,
            latency_ms=1.0,
            http_status=200,
            cost=Decimal("0.000044"),
            currency="USD",
            price_version="demo@2025-01-01",
            billed_to="postpaid",
        )
        for i in range(n)
    ]
    charges: list[UsageCharge | None] = [
        UsageCharge(e.request_id, e.account_id, "USD", 44, "postpaid", None, AT, {}) for e in events
    ]
    started = time.perf_counter()
    try:
        for start in range(0, n, BATCH):
            sink.insert_batch(events[start : start + BATCH], charges[start : start + BATCH])
    finally:
        sink.close()
    return n / (time.perf_counter() - started)


def reservation_latency(store: Store, n: int) -> tuple[float, float]:
    """p50 and p99 (ms) of one credit hold in its own transaction, as a prepaid request
    pays it before its upstream call."""
    timings = []
    for i in range(n):
        started = time.perf_counter()
        reserve_credit(
            store,
            account_id=f"acc_{i % ACCOUNTS}",
            request_id=f"lat-{i}",
            amount=50_000,
            currency="USD",
            at=AT,
            lease_s=3600,
        )
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.99)]


def measure(url: str, n: int) -> dict[str, float]:
    results = {}
    for mix in ("postpaid", "prepaid", "events", "reserve"):
        store = Store.connect(DatabaseSettings(url=url))
        try:
            migrate(store)
            fund(store)
            if mix == "events":
                results[mix] = events_with_charges(store, n)
            elif mix == "reserve":
                results["reserve_p50"], results["reserve_p99"] = reservation_latency(store, 2000)
            else:
                results[mix] = run(store, mix, n)
        finally:
            store.close()
        url = url if not url.startswith("sqlite") else url.replace(".db", "-2.db")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20 * BATCH, help="charges per mix")
    parser.add_argument("--pg-url", help="an existing PostgreSQL database (default: private)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
        rows.append(("SQLite (WAL)", measure(f"sqlite:///{tmp}/ledger.db", args.n)))
    if not args.no_pg:
        if args.pg_url:
            rows.append(("PostgreSQL", measure(args.pg_url, args.n)))
        else:
            with bench_postgres() as url:
                if url is None:
                    print("PostgreSQL: initdb not found, skipped")
                else:
                    rows.append(("PostgreSQL", measure(url, args.n)))
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs")
    print(f"settled per second, batches of {BATCH}, {args.n} per mix; hold latency in ms\n")
    print(
        f"| {'database':<14} | {'postpaid':>10} | {'prepaid (hold)':>14} "
        f"| {'events+charges':>14} | {'hold p50':>8} | {'hold p99':>8} |"
    )
    print(f"|{'-' * 16}|{'-' * 12}|{'-' * 16}|{'-' * 16}|{'-' * 10}|{'-' * 10}|")
    for name, r in rows:
        print(
            f"| {name:<14} | {r['postpaid']:>10,.0f} | {r['prepaid']:>14,.0f} "
            f"| {r['events']:>14,.0f} | {r['reserve_p50']:>8.3f} | {r['reserve_p99']:>8.3f} |"
        )


if __name__ == "__main__":
    main()
