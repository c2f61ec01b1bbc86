"""Reconciliation of the ledger with provider exports, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.billing.helpers import event
from tokenward.billing import reconcile
from tokenward.billing.export_csv import parse_export, parse_mapping
from tokenward.errors import InvalidRequest
from tokenward.storage import Store
from tokenward.storage.repos.event_sink import insert_batch

DAY1 = datetime(2026, 11, 3, 9, tzinfo=UTC)
DAY2 = datetime(2026, 11, 4, 23, 59, tzinfo=UTC)
HEADER = "date,model,input_tokens,output_tokens,cached_input_tokens,reasoning_tokens,cost,currency"


@pytest.fixture
def ledger(store: Store) -> Store:
    """openai/gpt-x on two days, openai/gpt-y on day 1, and other providers' traffic."""
    tokens = {"input_tokens": 100, "cached_input_tokens": 20, "output_tokens": 50}
    insert_batch(
        store,
        [
            event("a", "acc", "0.001", deployment="openai/gpt-x", started_at=DAY1, **tokens),
            event("b", "acc", "0.002", deployment="openai/gpt-x", started_at=DAY1, **tokens),
            event("c", "acc", "0.5", deployment="openai/gpt-x", started_at=DAY2, **tokens),
            event("d", "acc", None, deployment="openai/gpt-y", started_at=DAY1, **tokens),
            event("e", "acc", "1", deployment="openai-eu/gpt-x", started_at=DAY1),
            event("f", "acc", "1", deployment="a_b/gpt-x", started_at=DAY1),
        ],
    )
    return store


def test_matching_export(ledger: Store) -> None:
    export = "\n".join(
        [
            HEADER,
            "2026-11-03,gpt-x,150,80,30,1,0.0025,USD",  # two rows of one day are summed
            "2026-11-03T18:00:00Z,gpt-x,50,20,10,1,0.0005,USD",
            "2026-11-04,gpt-x,100,50,20,1,0.5,USD",
            "2026-11-03,gpt-y,100,50,20,1,,",
        ]
    )
    report = reconcile(ledger, "openai", export)
    assert report.ok and report.summary["match"] == 3
    first = report.rows[0]
    assert (first["day"], first["model"], first["status"]) == ("2026-11-03", "gpt-x", "match")
    assert (first["ledger_input"], first["export_input"], first["diff_input"]) == (200, 200, 0)
    assert (first["ledger_cost"], first["export_cost"], first["diff_cost"]) == (
        "0.003000",
        "0.003000",
        "0.000000",
    )
    assert first["ledger_cache_write"] == 2 and first["export_cache_write"] is None
    assert report.rows[1]["ledger_cost"] is None  # gpt-y is unpriced, the export has no cost


def test_mismatch_and_rows_missing_on_either_side(ledger: Store) -> None:
    export = "\n".join(
        [
            HEADER,
            "2026-11-03,gpt-x,201,100,40,2,0.003,USD",  # one input token more
            "2026-11-03,gpt-z,1,1,0,0,0.1,USD",  # the ledger never saw gpt-z
            "2026-11-04,gpt-x,100,50,20,1,0.4,USD",  # cost differs
        ]
    )
    report = reconcile(ledger, "openai", export)
    by_key = {(r["day"], r["model"]): r for r in report.rows}
    assert not report.ok
    assert by_key["2026-11-03", "gpt-x"]["status"] == "mismatch"
    assert by_key["2026-11-03", "gpt-x"]["diff_input"] == -1
    assert by_key["2026-11-03", "gpt-x"]["note"] == "input differs"
    assert by_key["2026-11-03", "gpt-y"]["status"] == "missing_in_export"
    assert by_key["2026-11-03", "gpt-z"]["status"] == "missing_in_ledger"
    assert by_key["2026-11-04", "gpt-x"]["status"] == "mismatch"
    assert by_key["2026-11-04", "gpt-x"]["diff_cost"] == "0.100000"
    assert report.summary == {
        "match": 0,
        "mismatch": 2,
        "missing_in_ledger": 1,
        "missing_in_export": 1,
    }
    tolerant = reconcile(ledger, "openai", export, cost_tolerance=Decimal("0.1"))
    assert {(r["day"], r["model"]): r for r in tolerant.rows}["2026-11-04", "gpt-x"]["status"] == (
        "match"
    )


def test_openai_column_names_and_explicit_mapping(ledger: Store) -> None:
    start = int(datetime(2026, 11, 4, tzinfo=UTC).timestamp())
    openai = (
        "start_time,end_time,model,input_tokens,output_tokens,input_cached_tokens,"
        f"num_model_requests\n{start},{start + 86400},gpt-x,100,50,20,1\n"
    )
    report = reconcile(ledger, "openai", openai)
    assert [(r["day"], r["status"]) for r in report.rows] == [("2026-11-04", "match")]
    custom = "Day,Engine,Prompt,Completion\n2026-11-04,gpt-x,100,50\n"
    mapping = {
        "day": "date",
        "engine": "model",
        "prompt": "input_tokens",
        "completion": "output_tokens",
    }
    assert reconcile(ledger, "openai", custom, mapping=mapping).ok


def test_provider_and_range_select_the_ledger_rows(ledger: Store) -> None:
    export = "date,model,input_tokens\n2026-11-03,gpt-x,0\n"
    whole = reconcile(
        ledger,
        "openai",
        export,
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert [(r["day"], r["model"]) for r in whole.rows] == [
        ("2026-11-03", "gpt-x"),
        ("2026-11-03", "gpt-y"),
        ("2026-11-04", "gpt-x"),
    ]  # openai-eu/ and a_b/ are other providers
    assert [r["model"] for r in reconcile(ledger, "a_b", "date,model,cost\n").rows] == []
    underscore = reconcile(ledger, "a_b", "date,model,input_tokens\n2026-11-03,gpt-x,10\n")
    assert underscore.ok and len(underscore.rows) == 1


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ("", "the export is empty"),
        ("model,input_tokens\ngpt-x,1\n", "lacks column(s) date"),
        ("date,model\n2026-11-03,gpt-x\n", "no token or cost column"),
        (
            "date,model,input_tokens\n2026-11-03,gpt-x,lots\n",
            "line 2: 'input_tokens' must be a whole",
        ),
        (
            "date,model,output_tokens\n2026-11-03,gpt-x,1.0\n",
            "line 2: 'output_tokens' must be a whole",
        ),
        ("date,model,input_tokens\n2026-11-03,gpt-x,-5\n", "must be a whole number"),
        ("date,model,input_tokens\nyesterday,gpt-x,1\n", "line 2: 'date' is not an ISO date"),
        ("date,model,input_tokens\n2026-11-03,,1\n", "line 2: 'model' is empty"),
        ("date,model,cost\n2026-11-03,gpt-x,1e400\n", "line 2:"),
        ("date,model,cost,currency\n2026-11-03,gpt-x,1,ZZZ\n", "unknown currency"),
    ],
)
def test_bad_exports_are_refused_with_one_clear_line(export: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_export(export)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_mapping_option_is_checked() -> None:
    assert parse_mapping(["Prompt Tokens=input_tokens"]) == {"prompt tokens": "input_tokens"}
    for bad in ("prompt", "prompt=tokens", "=model"):
        with pytest.raises(InvalidRequest, match="COLUMN=FIELD"):
            parse_mapping([bad])
    with pytest.raises(InvalidRequest, match="mapped column 'nope' is not in the export"):
        parse_export("date,model,input_tokens\n", {"nope": "cost"})


def test_bad_range_and_provider(ledger: Store) -> None:
    t = datetime(2026, 11, 3, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="before"):
        reconcile(ledger, "openai", "date,model,cost\n", since=t, until=t)
    with pytest.raises(InvalidRequest, match="provider"):
        reconcile(ledger, "openai/gpt-x", "date,model,cost\n")
