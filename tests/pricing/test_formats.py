"""TOML, JSON and CSV: one document shape, exact round trips; the shipped default book."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.pricing.conftest import doc, mod, snapshot, ver
from tokenward.clock import FakeClock
from tokenward.config.schema import SIMULATOR_MODELS, DatabaseSettings
from tokenward.errors import InvalidRequest
from tokenward.metering.usage import Usage
from tokenward.pricing import (
    FORMATS,
    Format,
    default_document,
    ensure_default_book,
    export_text,
    format_of_path,
    import_prices,
    import_text,
    load_catalog,
)
from tokenward.pricing.document import document_of, parse_document
from tokenward.pricing.formats import decode, encode
from tokenward.providers.presets import PRESETS
from tokenward.storage import Store, migrate

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SELF_HOSTED = {"vllm", "ollama", "sglang"}

RICH = {
    "books": [
        {
            "name": "zeta",
            "currency": "CNY",
            "versions": [
                ver(
                    "2025-02-26T16:30:00Z",
                    mod("z-chat", input="2", cached_input="0.50", output="8.000"),
                    mod("z-think", input="4", output="16", reasoning="16.5",
                        units={"image": "0.0123456789", "audio_second": "3"}),
                    note='quotes " and commas, and\na new line',
                    windows=[
                        {"name": "off_peak", "start": "00:30", "end": "08:30",
                         "timezone": "Asia/Shanghai", "multiplier": "0.5", "models": ["z-chat"]},
                        {"name": "night", "start": "22:00", "end": "06:00", "timezone": "UTC",
                         "multiplier": "0.25", "models": []},
                    ],
                ),
                ver("2026-01-01T00:00:00Z", mod("z-chat", input="1.999999999999", output="0",
                                                cache_write="2.5", source="ü https://x.example")),
            ],
        },
        doc("alpha", "USD", ver("2024-01-01T00:00:00Z", mod("a", input="0.15", output="0.6")))[
            "books"
        ][0],
    ]
}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_encode_decode_is_exact(fmt: Format) -> None:
    canonical = document_of(parse_document(RICH))
    text = encode(canonical, fmt)
    assert document_of(parse_document(decode(text, fmt))) == canonical
    assert document_of(parse_document(decode(text.encode(), fmt))) == canonical


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_export_round_trip_through_the_database(tmp_path: Path, fmt: Format) -> None:
    clock = FakeClock(NOW)
    stores = [
        Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / f'{n}.db'}")) for n in "ab"
    ]
    try:
        for store in stores:
            migrate(store)
        import_prices(stores[0], RICH, clock=clock)
        exported = export_text(stores[0], fmt)
        created = import_text(stores[1], exported, fmt, clock=clock)
        assert len(created.created) == 3
        assert export_text(stores[1], fmt) == exported
        assert import_text(stores[1], exported, fmt, clock=clock).created == ()
        one_book = export_text(stores[1], fmt, "alpha")
        assert [b.name for b in parse_document(decode(one_book, fmt))] == ["alpha"]
        with pytest.raises(InvalidRequest, match="no price book"):
            export_text(stores[1], fmt, "nope")
    finally:
        for store in stores:
            store.close()


def test_csv_has_a_kind_column_for_prices_and_windows() -> None:
    text = encode(document_of(parse_document(RICH)), "csv")
    header, *rows = text.splitlines()
    assert header.startswith("kind,book,currency,effective_from,note,model,category,price")
    assert any(r.startswith("window,zeta,CNY,2025-02-26T16:30:00Z") for r in rows)
    assert any(",z-think,unit:image,0.0123456789," in r for r in rows)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind,book\nprice,b\n", "missing column"),
        ("kind,book,currency,effective_from,model,category,price\n"
         "thing,b,USD,2026-01-01T00:00:00Z,m,input,1\n", "kind must be"),
        ("kind,book,currency,effective_from,model,category,price\n"
         "price,b,USD,2026-01-01T00:00:00Z,m,ouput,1\n", "unknown category"),
        ("kind,book,currency,effective_from,model,category,price\n"
         "price,b,USD,2026-01-01T00:00:00Z,m,input,1\n"
         "price,b,EUR,2026-01-01T00:00:00Z,m,output,1\n", "differs"),
        ("kind,book,currency,effective_from,model,category,price\n"
         "price,b,USD,2026-01-01T00:00:00Z,m,input,1\n"
         "price,b,USD,2026-01-01T00:00:00Z,m,input,2\n", "priced twice"),
    ],
)  # fmt: skip
def test_bad_csv_is_refused_with_its_row(text: str, needle: str) -> None:
    with pytest.raises(InvalidRequest, match=needle):
        decode(text, "csv")


def test_bad_text_and_formats_are_one_line_errors() -> None:
    with pytest.raises(InvalidRequest, match="not valid TOML"):
        decode("[[books]\n", "toml")
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        decode("{", "json")
    with pytest.raises(InvalidRequest, match="not UTF-8"):
        decode(b"\xff\xfe\xfa", "json")
    with pytest.raises(InvalidRequest, match="extension"):
        format_of_path("prices.yaml")
    assert format_of_path("PRICES.Toml") == "toml"


def test_the_default_book_prices_every_presets_models_and_the_simulator() -> None:
    books = {b.name: b for b in parse_document(default_document())}
    priced_presets = set(PRESETS) - SELF_HOSTED
    assert priced_presets | {"demo"} == set(books)
    priced = []
    for book in books.values():
        latest = book.versions[-1]
        assert latest.effective_from <= NOW
        for price in latest.models:
            assert "(" in price.source and "20" in price.source, price.model  # where and when
            priced.append(price.model)
    assert set(SIMULATOR_MODELS) <= {m.model for m in books["demo"].versions[-1].models}
    assert len(priced) >= 40
    deepseek = books["deepseek"].versions[0]
    assert [w.window.describe() for w in deepseek.windows] == ["00:30-08:30 Asia/Shanghai"] * 2


def test_ensure_default_book_imports_once_and_is_race_safe(database_url: str) -> None:
    stores = [Store.connect(DatabaseSettings(url=database_url)) for _ in range(3)]
    migrate(stores[0])
    clock = FakeClock(NOW)
    with ThreadPoolExecutor(len(stores)) as pool:  # three "processes" starting at once
        futures = [pool.submit(ensure_default_book, store, clock) for store in stores]
    for future in futures:
        future.result()  # none of them failed
    try:
        catalog = load_catalog(stores[0])
        usage = Usage(input_tokens=1000, cached_input_tokens=100, output_tokens=200)
        for book in parse_document(default_document()):
            for price in book.versions[-1].models:
                rating = catalog.rate(price.model, usage, NOW)
                assert rating is not None and rating.currency == book.currency, price.model
        sim = catalog.rate("sim-small", usage, NOW)
        assert sim is not None and sim.cost > 0 and sim.currency == "USD"
        before = snapshot(stores[0])
        ensure_default_book(stores[1], clock)  # books exist: nothing happens
        assert snapshot(stores[0]) == before
        records = [r for r in snapshot(stores[0])["audit_log"] if "prices.default_book" in r]
        assert len(records) == 1
    finally:
        for store in stores:
            store.close()


def test_ensure_default_book_leaves_a_database_with_books_alone(sqlite_store: Store) -> None:
    clock = FakeClock(NOW)
    mine: dict[str, Any] = doc("mine", "EUR", ver("2026-01-01T00:00:00Z", mod("gpt-4o")))
    import_prices(sqlite_store, mine, clock=clock)
    ensure_default_book(sqlite_store, clock)
    assert load_catalog(sqlite_store).books() == ("mine",)
