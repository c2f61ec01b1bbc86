"""Publishing, exporting and listing price books: what the CLI and `/admin/prices` call.

Publishing rules (all checked before anything is written, in one transaction):

- a version is immutable: re-importing it identically is a no-op, differently a
  `Conflict` (409);
- a new version of a book that has versions must take effect after the latest one
  ("overlapping versions") and not in the past (both `Conflict`); the first import
  of a book may be backdated, so its history can be loaded;
- a model belongs to one book (`InvalidRequest`), a book keeps its currency
  (`Conflict`).

The synchronous functions take the store, like the rest of the admin services;
async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import Connection

from tokenward.audit.admin import record_admin_action
from tokenward.clock import Clock
from tokenward.errors import Conflict, InvalidRequest, StoreError
from tokenward.pricing import repo
from tokenward.pricing.book import PriceVersion, iso_utc, version_id
from tokenward.pricing.catalog import PriceCatalog, load_catalog
from tokenward.pricing.document import (
    BookDraft,
    VersionDraft,
    document_of,
    drafts_of,
    model_dict,
    parse_document,
    window_dict,
)
from tokenward.pricing.formats import Format, decode, encode
from tokenward.storage.db import Store

DEFAULT_BOOK = "default.toml"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: the versions it published and the ids already present."""

    created: tuple[PriceVersion, ...]
    unchanged: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": [version_dict(v) for v in self.created],
            "unchanged": list(self.unchanged),
        }


def version_dict(version: PriceVersion) -> dict[str, Any]:
    """A published version for people and JSON: id, dates, windows and model prices."""
    return {
        "id": version.id,
        "book": version.book,
        "currency": version.currency,
        "effective_from": iso_utc(version.effective_from),
        "published_at": iso_utc(version.published_at),
        "note": version.note,
        "windows": [window_dict(w) for w in version.windows],
        "models": [model_dict(version.models[m]) for m in sorted(version.models)],
    }


def import_prices(
    store: Store, document: object, *, clock: Clock, actor: str = "cli"
) -> ImportResult:
    """Publish every new version of a price document (see the module's rules)."""
    books = parse_document(document)
    with store.transaction(write=True) as conn:
        result = _publish(conn, books, clock.now())
    for version in result.created:
        record_admin_action(
            store,
            clock,
            actor,
            "prices.publish",
            version.id,
            {
                "book": version.book,
                "effective_from": iso_utc(version.effective_from),
                "models": len(version.models),
            },
        )
    return result


def import_text(
    store: Store, text: str | bytes, fmt: Format, *, clock: Clock, actor: str = "cli"
) -> ImportResult:
    """`import_prices` of a TOML, JSON or CSV document."""
    return import_prices(store, decode(text, fmt), clock=clock, actor=actor)


def export_text(store: Store, fmt: Format, book: str | None = None) -> str:
    """Every published version (of `book`) as a document that imports back identically."""
    catalog = load_catalog(store)
    if book is not None and book not in catalog.books():
        raise InvalidRequest(f"no price book {book!r}", param="book")
    return encode(document_of(drafts_of(catalog.versions(book))), fmt)


def list_in_force(store: Store, at: datetime, book: str | None = None) -> tuple[PriceVersion, ...]:
    """The version of each book (or of `book`) in force at `at`."""
    return load_catalog(store).in_force(at, book)


def default_document() -> Any:
    """The shipped default price books (`pricing/data/default.toml`), parsed."""
    text = resources.files("tokenward.pricing").joinpath("data", DEFAULT_BOOK).read_text("utf-8")
    return decode(text, "toml")


def ensure_default_book(store: Store, clock: Clock) -> None:
    """Import the shipped default books once, when the database has no book at all.

    Race-safe across processes: the publish lock serialises them, the one that
    comes second finds books and does nothing, and a unique violation (should the
    lock be bypassed) is answered the same way.
    """
    books = parse_document(default_document())
    try:
        with store.transaction(write=True) as conn:
            repo.lock_books(conn)
            if repo.load_books(conn):
                return
            result = _publish(conn, books, clock.now())
    except StoreError:
        with store.transaction() as conn:
            if repo.load_books(conn):
                return
        raise
    record_admin_action(
        store,
        clock,
        "tokenward",
        "prices.default_book",
        ",".join(sorted({v.book for v in result.created})),
        {"versions": [v.id for v in result.created]},
    )


def _publish(conn: Connection, books: Sequence[BookDraft], now: datetime) -> ImportResult:
    repo.lock_books(conn)
    currencies = repo.load_books(conn)
    stored = PriceCatalog(repo.load_versions(conn))
    owner = {model: v.book for v in stored.versions() for model in v.models}
    created: list[PriceVersion] = []
    unchanged: list[str] = []
    for book in books:
        currency = currencies.get(book.name)
        if currency is not None and currency != book.currency:
            raise Conflict(f"price book {book.name!r} is in {currency}, not {book.currency}")
        existing = {v.effective_from: v for v in stored.versions(book.name)}
        latest = max(existing, default=None)
        for draft in book.versions:
            vid = version_id(book.name, draft.effective_from)
            found = existing.get(draft.effective_from)
            if found is not None:
                if VersionDraft.of(found) != draft:
                    raise Conflict(
                        f"price version {vid} is already published with other prices: "
                        "versions are immutable, publish a new one with a later effective_from"
                    )
                unchanged.append(vid)
                continue
            _check_new(vid, draft, latest, now)
            for price in draft.models:
                if owner.get(price.model, book.name) != book.name:
                    raise InvalidRequest(
                        f"model {price.model!r} is already priced by book "
                        f"{owner[price.model]!r} (a model belongs to one book)",
                        param="model",
                    )
            created.append(_version(book, draft, vid, now))
    # every check passed: now write, books first (foreign keys)
    for book in books:
        if book.name not in currencies and any(v.book == book.name for v in created):
            repo.insert_book(conn, book.name, book.currency, now)
    for version in created:
        repo.insert_version(conn, version)
    return ImportResult(tuple(created), tuple(unchanged))


def _check_new(vid: str, draft: VersionDraft, latest: datetime | None, now: datetime) -> None:
    """A new version of a book with versions: after the latest, and not in the past."""
    if latest is None:
        return  # the book's first import: history may be backdated
    if draft.effective_from <= latest:
        raise Conflict(
            f"overlapping versions: {vid} does not take effect after the latest version "
            f"({iso_utc(latest)})"
        )
    if draft.effective_from < now:
        raise Conflict(
            f"{vid} would take effect in the past ({iso_utc(draft.effective_from)} < "
            f"{iso_utc(now)}): published prices cannot change what was already billed"
        )


def _version(book: BookDraft, draft: VersionDraft, vid: str, now: datetime) -> PriceVersion:
    return PriceVersion(
        id=vid,
        book=book.name,
        currency=book.currency,
        effective_from=draft.effective_from,
        published_at=now,
        models={m.model: m for m in draft.models},
        windows=draft.windows,
        note=draft.note,
    )


__all__ = [
    "ImportResult",
    "default_document",
    "ensure_default_book",
    "export_text",
    "import_prices",
    "import_text",
    "list_in_force",
    "version_dict",
]
