"""The catalog: the version in force when a request STARTED prices it; the cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.pricing.conftest import doc, mod, ver
from tokenward.clock import FakeClock
from tokenward.errors import NotFound
from tokenward.metering.usage import Usage
from tokenward.pricing import CatalogCache, PriceCatalog, import_prices, load_catalog
from tokenward.storage import Store

START = datetime(2026, 1, 1, tzinfo=UTC)
SWITCH = datetime(2026, 3, 1, tzinfo=UTC)
MILLION_IN = Usage(input_tokens=1_000_000)


def publish_two_versions(store: Store, clock: FakeClock) -> None:
    first = doc("acme", "USD", ver("2026-01-01T00:00:00Z", mod("a1", input="2"), mod("gone")))
    import_prices(store, first, clock=clock)
    # a later version, published ahead of time: 'a1' gets dearer, 'gone' is dropped
    second = doc("acme", "USD", ver("2026-03-01T00:00:00Z", mod("a1", input="3")))
    import_prices(store, second, clock=clock)


def test_version_at_answers_around_effective_from(store: Store) -> None:
    clock = FakeClock(START + timedelta(days=1))
    publish_two_versions(store, clock)
    catalog = load_catalog(store)
    tick = timedelta(microseconds=1)
    assert catalog.version_at("a1", START - tick) is None
    assert catalog.version_at("a1", START).id == "acme@2026-01-01"  # type: ignore[union-attr]
    assert catalog.version_at("a1", SWITCH - tick).id == "acme@2026-01-01"  # type: ignore[union-attr]
    assert catalog.version_at("a1", SWITCH).id == "acme@2026-03-01"  # type: ignore[union-attr]
    assert catalog.version_at("gone", SWITCH - tick) is not None
    assert catalog.version_at("gone", SWITCH) is None  # dropped by the new version
    assert catalog.version_at("unknown", SWITCH) is None
    assert catalog.version("acme@2026-03-01").effective_from == SWITCH
    with pytest.raises(NotFound):
        catalog.version("acme@1999-01-01")
    assert [v.id for v in catalog.in_force(SWITCH)] == ["acme@2026-03-01"]
    assert catalog.in_force(START - tick) == ()


def test_a_request_started_before_a_switch_is_priced_by_the_old_version(store: Store) -> None:
    clock = FakeClock(START + timedelta(days=1))
    publish_two_versions(store, clock)
    clock.advance((SWITCH - clock.now()).total_seconds() - 1)
    started_at = clock.now()  # one second before the new version takes effect
    clock.advance(5)  # the request finishes, and is rated, after the switch
    catalog = load_catalog(store)
    old = catalog.rate("a1", MILLION_IN, started_at)
    new = catalog.rate("a1", MILLION_IN, clock.now())
    assert old is not None and (old.version_id, old.cost) == ("acme@2026-01-01", Decimal(2))
    assert new is not None and (new.version_id, new.cost) == ("acme@2026-03-01", Decimal(3))
    worst = catalog.worst_case_cost("a1", started_at, 1_000_000, 0)
    assert worst == (Decimal("2.000000"), "USD")
    assert catalog.worst_case_cost("unknown", started_at, 1, 1) is None
    assert catalog.rate("unknown", MILLION_IN, started_at) is None


def test_the_catalog_rates_fast(sqlite_store: Store) -> None:
    store = sqlite_store
    clock = FakeClock(START + timedelta(days=1))
    publish_two_versions(store, clock)
    catalog = load_catalog(store)
    usage = Usage(input_tokens=900, cached_input_tokens=100, output_tokens=300)
    at = clock.now()
    n = 2000
    began = time.perf_counter()
    for _ in range(n):
        catalog.rate("a1", usage, at)
    per_call = (time.perf_counter() - began) / n
    assert per_call < 200e-6  # ~15-20 us on a quiet core; generous for loaded CI


def test_the_cache_reloads_after_its_ttl_and_current_needs_no_io(sqlite_store: Store) -> None:
    store = sqlite_store
    clock = FakeClock(START + timedelta(days=1))
    cache = CatalogCache(store, clock, ttl_s=1.0)
    assert cache.current().books() == ()

    async def scenario() -> None:
        first = await cache.get()
        assert first.books() == ()
        import_prices(
            store, doc("acme", "USD", ver("2026-01-01T00:00:00Z", mod("a1"))), clock=clock
        )
        assert await cache.get() is first  # still fresh
        clock.advance(1.0)
        both = await asyncio.gather(cache.get(), cache.get())
        assert both[0] is both[1] and both[0].books() == ("acme",)
        assert cache.current() is both[0]

    asyncio.run(scenario())


def test_an_empty_catalog_prices_nothing() -> None:
    catalog = PriceCatalog()
    assert catalog.rate("a1", MILLION_IN, START) is None
    assert catalog.versions() == () and catalog.books() == ()
