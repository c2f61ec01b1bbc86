"""Invoices from usage events and the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.billing.helpers import NOV, account, catalog, event, plan_fee, post, prepaid_usage
from tokenward.billing import build_invoice, render_invoice
from tokenward.billing.invoices import parse_period
from tokenward.errors import InvalidRequest, NotFound
from tokenward.money import from_micros
from tokenward.storage import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos.event_sink import insert_batch

RUNS = itertools.count()
MONEY_KEYS = {"list_value", "amount", "subtotal", "credits_applied", "total", "amount_due"}


def documents(store: Store, name: str, **kw: Any) -> dict[str, bytes]:
    built = build_invoice(store, name, "2026-11", catalog=catalog(), **kw)
    return {fmt: render_invoice(built, fmt) for fmt in ("json", "csv", "html")}


def walk_money(node: Any, key: str = "") -> int:
    """Assert no float anywhere and every money value is a Decimal string; how many seen."""
    assert not isinstance(node, float), key
    seen = 0
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "unit_prices":
                for price in v.values():
                    assert price is None or Decimal(price) >= 0
            else:
                seen += walk_money(v, k)
    elif isinstance(node, list):
        seen += sum(walk_money(v, key) for v in node)
    elif key in MONEY_KEYS:
        assert isinstance(node, str) and Decimal(node).is_finite(), (key, node)
        seen += 1
    return seen


@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2"]),
            st.sampled_from(["", "off_peak"]),
            st.sampled_from(["postpaid", "prepaid"]),
            st.integers(min_value=0, max_value=10**10),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_total_is_the_exact_sum_of_event_costs_in_any_order(
    store: Store, specs: list[tuple[str, str, Any, int]]
) -> None:
    """Whatever the costs and insertion order, the total is the sum of event costs."""
    run = next(RUNS)
    names = [f"run{run}-fwd", f"run{run}-rev"]
    ids = [account(store, name) for name in names]
    made = [
        [
            event(f"{acc}-{i}", acc, from_micros(micros), model=model, window=window, billed_to=b)
            for i, (model, window, b, micros) in enumerate(specs)
        ]
        for acc in ids
    ]
    insert_batch(store, made[0])
    insert_batch(store, list(reversed(made[1])))
    expected = sum((from_micros(m) for *_, m in specs), Decimal(0))
    first, second = (build_invoice(store, n, "2026-11", catalog=catalog()) for n in names)
    assert first.total == second.total == expected
    assert first.lines == second.lines
    doc = json.loads(render_invoice(first, "json"))
    assert Decimal(doc["total"]) == expected and walk_money(doc) >= 5


def test_plan_fee_credits_applied_off_peak_and_included_lines(store: Store) -> None:
    acc = account(store, "acme")
    off_peak = NOV.replace(hour=3)
    events = [
        event(
            "p1", acc, "0.001000", input_tokens=100, cached_input_tokens=40, cache_write_tokens=0
        ),
        event("p2", acc, "0.002500", input_tokens=200, cached_input_tokens=0, cache_write_tokens=0),
        event("o1", acc, "0.000400", window="off_peak", started_at=off_peak),
        event("pp", acc, "0.300000", billed_to="prepaid"),
        event("in", acc, "0.050000", billed_to="plan", model="m2"),
        event("un", acc, None),  # unpriced: on no invoice
        event("other-month", acc, "9", started_at=NOV + timedelta(days=30)),
    ]
    insert_batch(store, events)
    assert post(store, plan_fee(acc, 20_000_000, datetime(2026, 11, 1, tzinfo=UTC)))
    assert post(store, prepaid_usage(events[3]))
    invoice = build_invoice(store, "acme", "2026-11", catalog=catalog())
    lines = [(ln.kind, ln.model, ln.window, ln.requests, str(ln.amount)) for ln in invoice.lines]
    assert lines == [
        ("plan_fee", "", "", 0, "20.000000"),
        ("usage", "m1", "", 3, "0.303500"),
        ("usage", "m1", "off_peak", 1, "0.000400"),
        ("included", "m2", "", 1, "0.000000"),
    ]
    peak, night, included = invoice.lines[1:]
    assert peak.quantities == {
        "input": (100 - 40) + 200 + (10 - 2 - 1),  # cached and cache writes billed apart
        "cached_input": 42,
        "cache_write": 1,
        "output": 12,
        "reasoning": 3,
    }
    assert peak.unit_prices == {
        "input": Decimal("2.50"),
        "cached_input": Decimal("1.25"),
        "cache_write": Decimal("2.50"),  # falls back to the input price
        "output": Decimal(10),
        "reasoning": Decimal(10),  # falls back to the output price
    }
    assert night.unit_prices is not None and night.unit_prices["input"] == Decimal("1.25")
    assert included.list_value == Decimal("0.05")
    assert invoice.total == Decimal("20.3039")
    assert invoice.credits_applied == Decimal("0.3")
    assert invoice.amount_due == Decimal("20.0039")
    doc = json.loads(render_invoice(invoice, "json"))
    assert (doc["invoice_number"], doc["currency"], doc["period"]) == (
        "TW-acme-202611-USD",
        "USD",
        "2026-11",
    )
    assert (doc["total"], doc["credits_applied"], doc["amount_due"]) == (
        "20.303900",
        "0.300000",
        "20.003900",
    )
    assert doc["lines"][1]["unit_prices"]["input"] == "2.50"
    assert (doc["period_start"], doc["period_end"], doc["issue_date"]) == (
        "2026-11-01",
        "2026-11-30",
        "2026-12-01",
    )
    walk_money(doc)
    rows = list(csv.DictReader(io.StringIO(render_invoice(invoice, "csv").decode())))
    kinds = ["plan_fee", "usage", "usage", "included"]
    assert [r["kind"] for r in rows] == [
        *kinds,
        "subtotal",
        "credits_applied",
        "total",
        "amount_due",
    ]
    assert rows[1]["input_unit_price"] == "2.50" and rows[-1]["amount"] == "20.003900"
    page = render_invoice(invoice, "html").decode()
    for text in (
        "TW-acme-202611-USD",
        "Bill to",
        "Plan pro",
        "off_peak",
        "book@2026-11-01",
        "20.003900",
    ):
        assert text in page


def test_documents_are_byte_identical_twice_and_after_a_replay(store: Store) -> None:
    acc = account(store, "acme")
    events = [event(f"r{i}", acc, f"0.00{i}123", billed_to="prepaid") for i in range(1, 4)]
    insert_batch(store, events)
    post(store, prepaid_usage(events[0]))
    before = documents(store, "acme")
    assert documents(store, "acme") == before
    assert insert_batch(store, events[:1]) == [events[0]]  # the replay is a no-op...
    assert not post(store, prepaid_usage(events[0]))  # ...in the ledger too
    assert documents(store, "acme") == before


def test_html_escapes_a_hostile_account_name(store: Store) -> None:
    hostile = '<script>alert("x")</script>&<img src=x onerror=1>'
    with store.transaction(write=True) as conn:
        accounts_repo.insert_account(
            conn, accounts_repo.AccountRow("acc_evil", hostile, "postpaid", NOV)
        )
    insert_batch(store, [event("e1", "acc_evil", "1", model="<b>m</b>")])
    page = render_invoice(build_invoice(store, hostile, "2026-11", catalog=None), "html").decode()
    assert "<script>" not in page and "<img" not in page and "<b>m</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;img" in page
    assert "&lt;b&gt;m&lt;/b&gt;" in page
    assert "http" not in page.replace("https://", "")  # no external assets


def test_currency_choice_and_bad_input(store: Store) -> None:
    acc = account(store, "acme")
    account(store, "idle")
    insert_batch(
        store,
        [event("u", acc, "1.5"), event("c", acc, "7", currency="CNY", version="cn@2026-01-01")],
    )
    with pytest.raises(InvalidRequest, match=r"several currencies in 2026-11 \(CNY, USD\)"):
        build_invoice(store, "acme", "2026-11", catalog=None)
    cny = build_invoice(store, "acme", "2026-11", catalog=catalog(), currency="cny")
    assert (cny.currency, cny.total, cny.number) == ("CNY", Decimal(7), "TW-acme-202611-CNY")
    assert cny.lines[0].unit_prices == dict.fromkeys(cny.lines[0].unit_prices or {})  # unknown
    with pytest.raises(InvalidRequest, match="no billable activity"):
        build_invoice(store, "idle", "2026-11", catalog=None)
    empty = build_invoice(store, "idle", "2026-11", catalog=None, currency="EUR")
    assert (empty.lines, empty.total, empty.amount_due) == ((), 0, 0)
    with pytest.raises(NotFound, match="unknown account 'nobody'"):
        build_invoice(store, "nobody", "2026-11", catalog=None)
    with pytest.raises(InvalidRequest, match="unknown currency"):
        build_invoice(store, "acme", "2026-11", catalog=None, currency="XXX")
    for bad in ("2026-13", "2026-1", "nov", ""):
        with pytest.raises(InvalidRequest, match="YYYY-MM"):
            build_invoice(store, "acme", bad, catalog=None)


def test_the_period_is_a_utc_month_on_the_start_time(store: Store) -> None:
    acc = account(store, "acme")
    edges = {
        "before": datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "first": datetime(2026, 11, 1, tzinfo=UTC),
        "last": datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
        "after": datetime(2026, 12, 1, tzinfo=UTC),
    }
    insert_batch(store, [event(k, acc, "1", started_at=t) for k, t in edges.items()])
    assert build_invoice(store, "acme", "2026-11", catalog=None).total == 2
    assert parse_period("2026-12") == (edges["after"], datetime(2027, 1, 1, tzinfo=UTC))
