"""Publishing price documents: immutable versions, one book per model, nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.pricing.conftest import doc, mod, snapshot, ver
from tokenward.audit import AuditLog
from tokenward.clock import FakeClock
from tokenward.errors import Conflict, InvalidRequest
from tokenward.pricing import import_prices, load_catalog
from tokenward.storage import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW = {
    "name": "off_peak",
    "start": "00:30",
    "end": "08:30",
    "timezone": "Asia/Shanghai",
    "multiplier": "0.5",
    "models": ["deep*"],
}


def test_publish_then_reimport_identically_is_a_no_op(store: Store) -> None:
    clock = FakeClock(NOW)
    document = doc(
        "deepseek",
        "CNY",
        ver("2025-01-01T00:00:00Z", mod("deepseek-chat", cached_input="0.5"), windows=[WINDOW]),
        ver("2025-06-01T08:00:00+08:00", mod("deepseek-chat", input="2.50"), note="cut"),
    )
    first = import_prices(store, document, clock=clock)  # backdated: the book is new
    assert [v.id for v in first.created] == [
        "deepseek@2025-01-01",
        "deepseek@2025-06-01",  # 08:00 in Shanghai is midnight UTC
    ]
    before = snapshot(store)
    again = import_prices(store, document, clock=clock)
    assert again.created == () and again.unchanged == ("deepseek@2025-01-01", "deepseek@2025-06-01")
    assert snapshot(store) == before
    catalog = load_catalog(store)
    version = catalog.version("deepseek@2025-01-01")
    assert version.currency == "CNY" and version.windows[0].multiplier == Decimal("0.5")
    assert version.models["deepseek-chat"].per_million["cached_input"] == Decimal("0.5")
    assert catalog.version("deepseek@2025-06-01").note == "cut"
    actions = [(r.action, r.target) for r in AuditLog(store, clock).records(limit=10)]
    assert actions == [
        ("prices.publish", "deepseek@2025-01-01"),
        ("prices.publish", "deepseek@2025-06-01"),
    ]


def test_state_rules_refuse_without_writing_anything(store: Store) -> None:
    clock = FakeClock(NOW)
    import_prices(store, doc("acme", "USD", ver("2026-01-01T00:00:00Z", mod("a1"))), clock=clock)
    import_prices(store, doc("other", "USD", ver("2026-01-01T00:00:00Z", mod("o1"))), clock=clock)
    before = snapshot(store)
    refused: list[tuple[dict[str, Any], type[Exception], str]] = [
        # a published version is immutable
        (doc("acme", "USD", ver("2026-01-01T00:00:00Z", mod("a1", input="3"))), Conflict,
         "immutable"),
        # not later than the latest version of the book
        (doc("acme", "USD", ver("2025-12-31T00:00:00Z", mod("a1"))), Conflict, "overlapping"),
        # later than the latest, but in the past
        (doc("acme", "USD", ver("2026-05-31T23:59:59Z", mod("a1"))), Conflict, "in the past"),
        # a model priced by another book
        (doc("acme", "USD", ver("2026-07-01T00:00:00Z", mod("o1"))), InvalidRequest,
         "already priced by book 'other'"),
        (doc("new", "USD", ver("2026-07-01T00:00:00Z", mod("a1"))), InvalidRequest,
         "already priced by book 'acme'"),
        # a book keeps its currency
        (doc("acme", "EUR", ver("2026-07-01T00:00:00Z", mod("a1"))), Conflict, "is in USD"),
    ]  # fmt: skip
    for document, error, needle in refused:
        with pytest.raises(error, match=needle):
            import_prices(store, document, clock=clock)
        assert snapshot(store) == before, needle
    # one refused version in a document refuses all of it
    mixed = doc(
        "acme",
        "USD",
        ver("2026-07-01T00:00:00Z", mod("a1")),
        ver("2026-08-01T00:00:00Z", mod("o1")),
    )
    with pytest.raises(InvalidRequest):
        import_prices(store, mixed, clock=clock)
    assert snapshot(store) == before
    # a future version, at or after now, is fine
    created = import_prices(store, doc("acme", "USD", ver("2026-06-01T00:00:00Z", mod("a1"))),
                            clock=clock)  # fmt: skip
    assert [v.id for v in created.created] == ["acme@2026-06-01"]


def _bad(**changes: Any) -> dict[str, Any]:
    model = mod("m1", **changes.pop("model", {}))
    version = {**ver("2026-01-01T00:00:00Z", model), **changes.pop("version", {})}
    return doc(changes.pop("book", "acme"), changes.pop("currency", "USD"), version)


BAD_DOCUMENTS = {
    "negative price": (_bad(model={"input": "-1"}), "must not be negative"),
    "non-numeric price": (_bad(model={"output": "cheap"}), "not a decimal number"),
    "float price": (_bad(model={"input": 0.5}), "not a float"),
    "NaN price": (_bad(model={"input": "NaN"}), "not a decimal number"),
    "infinite price": (_bad(model={"input": "Infinity"}), "not a decimal number"),
    "missing output": (_bad(model={"output": None}), "needs a price"),
    "unknown currency": (_bad(currency="XYZ"), "unknown currency"),
    "unknown category": (_bad(model={"ouptut": "1"}), "unknown category 'ouptut'"),
    "bad unit name": (_bad(model={"units": {"Big Image": "1"}}), "units"),
    "float unit price": (_bad(model={"units": {"image": 0.04}}), "not a float"),
    "bad window time": (_bad(version={"windows": [{**WINDOW, "start": "25:00"}]}), "HH:MM"),
    "bad window zone": (_bad(version={"windows": [{**WINDOW, "timezone": "Mars/Base"}]}),
                        "unknown time zone"),
    "empty window": (_bad(version={"windows": [{**WINDOW, "end": "00:30"}]}), "different"),
    "zero multiplier": (_bad(version={"windows": [{**WINDOW, "multiplier": "0"}]}),
                        "greater than zero"),
    "negative multiplier": (_bad(version={"windows": [{**WINDOW, "multiplier": "-0.5"}]}),
                            "negative"),
    "float multiplier": (_bad(version={"windows": [{**WINDOW, "multiplier": 0.5}]}), "float"),
    "naive effective_from": (_bad(version={"effective_from": "2026-01-01T00:00:00"}),
                             "time zone"),
    "bad effective_from": (_bad(version={"effective_from": "soon"}), "ISO 8601"),
    "bad book name": (_bad(book="no spaces"), "name"),
    "no versions": ({"books": [{"name": "b", "currency": "USD", "versions": []}]}, "non-empty"),
    "no books": ({"books": []}, "non-empty"),
    "not an object": (["books"], "must be an object"),
    "model twice in a version": (
        doc("b", "USD", ver("2026-01-01T00:00:00Z", mod("m1"), mod("m1"))), "priced twice"),
    "model in two books": (
        {"books": [doc("a", "USD", ver("2026-01-01T00:00:00Z", mod("m1")))["books"][0],
                   doc("b", "USD", ver("2026-01-01T00:00:00Z", mod("m1")))["books"][0]]},
        "priced by book 'a'"),
    "same effective_from twice": (
        doc("b", "USD", ver("2026-01-01T00:00:00Z", mod("m1")),
            ver("2026-01-01T01:00:00+01:00", mod("m1"))), "two versions"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_input_is_refused_and_nothing_is_written(sqlite_store: Store, case: str) -> None:
    document, needle = BAD_DOCUMENTS[case]
    before = snapshot(sqlite_store)
    with pytest.raises(InvalidRequest, match=needle) as caught:
        import_prices(sqlite_store, document, clock=FakeClock(NOW))
    assert "\n" not in caught.value.message
    assert snapshot(sqlite_store) == before
