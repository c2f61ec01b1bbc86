"""The price document: one shape for import and export, whatever the file format.

```json
{"books": [{"name": "deepseek", "currency": "CNY", "versions": [{
    "effective_from": "2026-01-01T00:00:00Z", "note": "...",
    "windows": [{"name": "off_peak", "start": "00:30", "end": "08:30",
                 "timezone": "Asia/Shanghai", "multiplier": "0.5", "models": ["deepseek-*"]}],
    "models": [{"model": "deepseek-chat", "input": "2", "cached_input": "0.5", "output": "8",
                "units": {"image": "0.01"}, "source": "https://... (read 2026-11-01)"}]}]}]}
```

Prices and multipliers are decimal strings (integers pass; floats are refused, as
JSON and TOML floats are not exact). `parse_document` checks everything that does
not need the database and returns canonical drafts (versions by date, models by
name), so two documents with the same content compare equal; `document_of` is its
inverse. Every error names where it is (`books[0].versions[1].models[2].output`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenward.errors import InvalidRequest
from tokenward.money import check_currency, parse_amount
from tokenward.pricing.book import (
    REQUIRED_CATEGORIES,
    TOKEN_CATEGORIES,
    ModelPrice,
    PriceVersion,
    PriceWindow,
    iso_utc,
)
from tokenward.timewindows import DailyWindow

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MODEL = re.compile(r"[^\s*?\[\]{}]{1,200}")
_UNIT = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_MODEL_KEYS = frozenset({"model", "source", "units", *TOKEN_CATEGORIES})


@dataclass(frozen=True, slots=True)
class VersionDraft:
    """A version as a document states it: what publishing would store."""

    effective_from: datetime
    note: str
    windows: tuple[PriceWindow, ...]
    models: tuple[ModelPrice, ...]

    @classmethod
    def of(cls, version: PriceVersion) -> VersionDraft:
        models = tuple(version.models[name] for name in sorted(version.models))
        return cls(version.effective_from, version.note, version.windows, models)


@dataclass(frozen=True, slots=True)
class BookDraft:
    name: str
    currency: str
    versions: tuple[VersionDraft, ...]


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Prefix an error raised inside with where in the document it is."""
    try:
        yield
    except InvalidRequest as exc:
        raise InvalidRequest(f"{path}: {exc.message}", param=path) from None


def _fail(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {message}", param=path)


def _mapping(value: object, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an object (a table)")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _fail(path, f"unknown field {unknown[0]!r}; expected {', '.join(sorted(allowed))}")
    return value


def _list(value: object, path: str, *, required: bool = True) -> Sequence[Any]:
    if value is None and not required:
        return ()
    if not isinstance(value, list | tuple) or (required and not value):
        raise _fail(path, "must be a non-empty list" if required else "must be a list")
    return value


def _text(value: object, path: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        what = "a string" if pattern is None else f"a name matching {pattern.pattern}"
        raise _fail(path, f"must be {what}, got {value!r}")
    return value


def parse_time(value: object, path: str) -> datetime:
    """An aware instant from an ISO 8601 string (or a TOML datetime)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _fail(path, f"not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise _fail(path, "must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z")
    if value.tzinfo is None:
        raise _fail(path, "must carry a time zone (e.g. Z)")
    return value.astimezone(UTC)


def _price(value: object, path: str) -> Decimal:
    with _at(path):
        return parse_amount(value, "price")


def _window(value: object, path: str) -> PriceWindow:
    allowed = frozenset({"name", "start", "end", "timezone", "multiplier", "models"})
    raw = _mapping(value, path, allowed)
    name = _text(raw.get("name"), f"{path}.name", _NAME)
    with _at(path):
        window = DailyWindow.parse(raw.get("start"), raw.get("end"), raw.get("timezone"))
    with _at(f"{path}.multiplier"):
        multiplier = parse_amount(raw.get("multiplier"), "multiplier", allow_zero=False)
    globs = _list(raw.get("models"), f"{path}.models", required=False)
    models = tuple(_text(g, f"{path}.models[{i}]") for i, g in enumerate(globs))
    if any(not g.strip() for g in models):
        raise _fail(f"{path}.models", "a model glob must not be empty")
    return PriceWindow(name, window, multiplier, models)


def _model(value: object, path: str) -> ModelPrice:
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in _MODEL_KEYS)
        if unknown:
            raise _fail(
                path,
                f"unknown category {unknown[0]!r}: a model is priced by "
                f"{', '.join(TOKEN_CATEGORIES)} (per 1M tokens) and 'units'",
            )
    raw = _mapping(value, path, _MODEL_KEYS)
    model = _text(raw.get("model"), f"{path}.model", _MODEL)
    per_million = {
        category: _price(raw[category], f"{path}.{category}")
        for category in TOKEN_CATEGORIES
        if raw.get(category) is not None
    }
    for category in REQUIRED_CATEGORIES:
        if category not in per_million:
            raise _fail(f"{path}.{category}", f'model {model!r} needs a price ("0" if free)')
    units_raw = raw.get("units") or {}
    if not isinstance(units_raw, Mapping):
        raise _fail(f"{path}.units", "must be an object of unit -> price")
    units = {}
    for unit in sorted(units_raw):
        _text(unit, f"{path}.units", _UNIT)
        units[unit] = _price(units_raw[unit], f"{path}.units.{unit}")
    source = _text(raw.get("source", ""), f"{path}.source")
    return ModelPrice(model, per_million, units, source)


def _version(value: object, path: str) -> VersionDraft:
    allowed = frozenset({"effective_from", "note", "windows", "models"})
    raw = _mapping(value, path, allowed)
    effective_from = parse_time(raw.get("effective_from"), f"{path}.effective_from")
    note = _text(raw.get("note", ""), f"{path}.note")
    windows_raw = _list(raw.get("windows"), f"{path}.windows", required=False)
    windows = tuple(_window(w, f"{path}.windows[{i}]") for i, w in enumerate(windows_raw))
    models_raw = _list(raw.get("models"), f"{path}.models")
    models: dict[str, ModelPrice] = {}
    for i, entry in enumerate(models_raw):
        price = _model(entry, f"{path}.models[{i}]")
        if price.model in models:
            raise _fail(f"{path}.models[{i}]", f"model {price.model!r} is priced twice")
        models[price.model] = price
    ordered = tuple(models[name] for name in sorted(models))
    return VersionDraft(effective_from, note, windows, ordered)


def parse_document(document: object) -> tuple[BookDraft, ...]:
    """Validate a price document; InvalidRequest (400) naming the first problem."""
    root = _mapping(document, "document", frozenset({"books"}))
    books: dict[str, BookDraft] = {}
    owner: dict[str, str] = {}
    for b, raw_book in enumerate(_list(root.get("books"), "books")):
        path = f"books[{b}]"
        raw = _mapping(raw_book, path, frozenset({"name", "currency", "versions"}))
        name = _text(raw.get("name"), f"{path}.name", _NAME)
        if name in books:
            raise _fail(path, f"book {name!r} appears twice")
        with _at(f"{path}.currency"):
            currency = check_currency(raw.get("currency"))
        versions: dict[datetime, VersionDraft] = {}
        for v, raw_version in enumerate(_list(raw.get("versions"), f"{path}.versions")):
            draft = _version(raw_version, f"{path}.versions[{v}]")
            if draft.effective_from in versions:
                raise _fail(
                    f"{path}.versions[{v}]",
                    f"two versions of {name!r} take effect at {iso_utc(draft.effective_from)}",
                )
            versions[draft.effective_from] = draft
            for price in draft.models:
                if owner.setdefault(price.model, name) != name:
                    raise _fail(
                        f"{path}.versions[{v}]",
                        f"model {price.model!r} is priced by book {owner[price.model]!r} "
                        "already (a model belongs to one book)",
                    )
        ordered = tuple(versions[at] for at in sorted(versions))
        books[name] = BookDraft(name, currency, ordered)
    return tuple(books.values())


def decimal_text(value: Decimal) -> str:
    """A price as written in documents: plain notation, trailing zeros kept."""
    return f"{value:f}"


def window_dict(window: PriceWindow) -> dict[str, Any]:
    return {
        "name": window.name,
        **window.window.as_dict(),
        "multiplier": decimal_text(window.multiplier),
        "models": list(window.models),
    }


def model_dict(price: ModelPrice) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": price.model}
    for category in TOKEN_CATEGORIES:
        if category in price.per_million:
            entry[category] = decimal_text(price.per_million[category])
    if price.units:
        entry["units"] = {u: decimal_text(price.units[u]) for u in sorted(price.units)}
    entry["source"] = price.source
    return entry


def version_dict(draft: VersionDraft) -> dict[str, Any]:
    entry: dict[str, Any] = {"effective_from": iso_utc(draft.effective_from), "note": draft.note}
    if draft.windows:
        entry["windows"] = [window_dict(w) for w in draft.windows]
    entry["models"] = [model_dict(m) for m in draft.models]
    return entry


def document_of(books: Sequence[BookDraft]) -> dict[str, Any]:
    """The canonical document of `books` (books by name, versions by date)."""
    return {
        "books": [
            {
                "name": book.name,
                "currency": book.currency,
                "versions": [version_dict(v) for v in book.versions],
            }
            for book in sorted(books, key=lambda b: b.name)
        ]
    }


def drafts_of(versions: Sequence[PriceVersion]) -> tuple[BookDraft, ...]:
    """Published versions grouped back into book drafts (for export)."""
    by_book: dict[str, list[PriceVersion]] = {}
    for version in versions:
        by_book.setdefault(version.book, []).append(version)
    return tuple(
        BookDraft(
            name,
            group[0].currency,
            tuple(VersionDraft.of(v) for v in sorted(group, key=lambda v: v.effective_from)),
        )
        for name, group in sorted(by_book.items())
    )


__all__ = [
    "BookDraft",
    "VersionDraft",
    "decimal_text",
    "document_of",
    "drafts_of",
    "model_dict",
    "parse_document",
    "parse_time",
    "version_dict",
    "window_dict",
]
