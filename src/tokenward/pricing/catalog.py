"""`PriceCatalog`: an immutable snapshot of every published version, indexed for the
hot path, and `CatalogCache`, which keeps the gateway's snapshot fresh.

A model belongs to one book (enforced at publish time), so each model maps to its
book's versions sorted by `effective_from`; the version in force at an instant is
one bisect away. A version that no longer lists a model ends that model's price.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tokenward.clock import Clock
from tokenward.errors import NotFound, StoreError
from tokenward.metering.usage import Usage
from tokenward.pricing import repo
from tokenward.pricing.book import PriceVersion
from tokenward.pricing.rating import Rating, rate, worst_case
from tokenward.storage.db import Store

log = logging.getLogger("tokenward.pricing")
_ONE = Decimal(1)


class PriceCatalog:
    """Every published version of every book, answering "what did this cost".

    >>> catalog = load_catalog(store)  # doctest: +SKIP
    >>> catalog.rate("gpt-4o", Usage(input_tokens=1000, output_tokens=200), started_at)
    """

    __slots__ = ("_by_book", "_by_id", "_by_model")

    def __init__(self, versions: Iterable[PriceVersion] = ()) -> None:
        by_book: dict[str, list[PriceVersion]] = {}
        for version in versions:
            by_book.setdefault(version.book, []).append(version)
        self._by_book: dict[str, tuple[PriceVersion, ...]] = {}
        self._by_id: dict[str, PriceVersion] = {}
        self._by_model: dict[str, tuple[list[datetime], tuple[PriceVersion, ...]]] = {}
        for book, group in sorted(by_book.items()):
            ordered = tuple(sorted(group, key=lambda v: v.effective_from))
            self._by_book[book] = ordered
            index = ([v.effective_from for v in ordered], ordered)
            for version in ordered:
                self._by_id[version.id] = version
                for model in version.models:
                    self._by_model[model] = index

    def version_at(self, model: str, at: datetime) -> PriceVersion | None:
        """The version in force at `at` that prices `model`, if any."""
        found = self._by_model.get(model)
        if found is None:
            return None
        starts, versions = found
        i = bisect_right(starts, at) - 1
        if i < 0:
            return None
        version = versions[i]
        return version if model in version.models else None

    def version(self, version_id: str) -> PriceVersion:
        try:
            return self._by_id[version_id]
        except KeyError:
            raise NotFound(f"no price version {version_id!r}") from None

    def rate(
        self, model: str, usage: Usage, started_at: datetime, *, multiplier: Decimal = _ONE
    ) -> Rating | None:
        """The rating of a request that started at `started_at` (None: no price)."""
        version = self.version_at(model, started_at)
        if version is None:
            return None
        return rate(version, model, usage, started_at, multiplier=multiplier)

    def worst_case_cost(
        self,
        model: str,
        started_at: datetime,
        input_tokens: int,
        max_output_tokens: int,
        *,
        multiplier: Decimal = _ONE,
    ) -> tuple[Decimal, str] | None:
        """(cost rounded UP to a micro, currency), at least the cost of any usage with
        input <= `input_tokens` and output <= `max_output_tokens`; None: no price."""
        version = self.version_at(model, started_at)
        if version is None:
            return None
        cost = worst_case(
            version, model, started_at, input_tokens, max_output_tokens, multiplier=multiplier
        )
        assert cost is not None  # version_at only answers versions pricing the model
        return cost, version.currency

    def books(self) -> tuple[str, ...]:
        return tuple(self._by_book)

    def versions(self, book: str | None = None) -> tuple[PriceVersion, ...]:
        """Every version (of one book), oldest first per book."""
        if book is not None:
            return self._by_book.get(book, ())
        return tuple(v for group in self._by_book.values() for v in group)

    def in_force(self, at: datetime, book: str | None = None) -> tuple[PriceVersion, ...]:
        """The version of each book (or of `book`) in force at `at`."""
        found = []
        for name, ordered in self._by_book.items():
            if book is not None and name != book:
                continue
            i = bisect_right([v.effective_from for v in ordered], at) - 1
            if i >= 0:
                found.append(ordered[i])
        return tuple(found)


def load_catalog(store: Store) -> PriceCatalog:
    """A snapshot of the store's price books (one read transaction)."""
    with store.transaction() as conn:
        return PriceCatalog(repo.load_versions(conn))


def catalog_fingerprint(store: Store) -> tuple[int, Any]:
    """What changes whenever a version is published (one tiny query)."""
    with store.transaction() as conn:
        return repo.versions_fingerprint(conn)


class CatalogCache:
    """The gateway's catalog: reloaded at most every `ttl_s`, off the event loop.

    Concurrent refreshes share one load, and a refresh reads the books again only
    when a version was published since the last one. If the store fails, the last snapshot stays
    in force (logged): refusing traffic over a price read would be worse.
    """

    def __init__(self, store: Store, clock: Clock, ttl_s: float = 1.0) -> None:
        if ttl_s <= 0:
            raise ValueError("the catalog cache TTL must be positive")
        self._store = store
        self._clock = clock
        self._ttl_s = ttl_s
        self._catalog = PriceCatalog()
        self._loaded = False
        self._fresh_until = float("-inf")
        self._fingerprint: tuple[int, Any] | None = None
        self._task: asyncio.Task[PriceCatalog] | None = None

    async def get(self) -> PriceCatalog:
        """The current snapshot; waits for a reload only when the TTL has passed."""
        if self._loaded and self._clock.monotonic() < self._fresh_until:
            return self._catalog
        task = self._task
        if task is None or task.done():
            task = self._task = asyncio.get_running_loop().create_task(self._refresh())
            task.add_done_callback(_retrieve)
        # shield: one caller giving up must not cancel the load the others wait on
        return await asyncio.shield(task)

    def current(self) -> PriceCatalog:
        """The last loaded snapshot (empty before the first load); no I/O."""
        return self._catalog

    async def _refresh(self) -> PriceCatalog:
        started = self._clock.monotonic()
        try:
            # a re-check costs one tiny query; the books are read only when it changed
            fingerprint = await asyncio.to_thread(catalog_fingerprint, self._store)
            if not self._loaded or fingerprint != self._fingerprint:
                self._catalog = await asyncio.to_thread(load_catalog, self._store)
                self._fingerprint, self._loaded = fingerprint, True
        except StoreError as exc:
            if not self._loaded:
                raise
            log.warning("price catalog not refreshed, keeping the last one: %s", exc)
        # the answer is as old as the moment we asked, so the TTL starts there
        self._fresh_until = started + self._ttl_s
        return self._catalog


def _retrieve(task: asyncio.Task[PriceCatalog]) -> None:
    """Mark a refresh's error as seen: the callers awaiting it got it already."""
    if not task.cancelled():
        task.exception()


__all__ = ["CatalogCache", "PriceCatalog", "load_catalog"]
