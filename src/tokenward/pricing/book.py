"""The price book's value objects: a version of a book, its model prices and windows.

A book (e.g. "openai") has one currency and a list of versions. A version is
immutable once published and in force from its `effective_from` until the next
version of the same book; a request is priced by the version in force when it
started. Prices are per million tokens of a category (`TOKEN_CATEGORIES`) or per
unit (an image, an audio second): all `Decimal`, never float.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fnmatch import fnmatchcase

from tokenward.timewindows import DailyWindow

#: token categories a model is priced by, in display order. `Usage` counts cached
#: input and cache writes INSIDE input, and reasoning INSIDE output: rating bills
#: input - cached - cache_write at the input price, output - reasoning at the output
#: price, and a missing cached_input / cache_write price falls back to the input
#: price, a missing reasoning price to the output price.
TOKEN_CATEGORIES = ("input", "cached_input", "cache_write", "output", "reasoning")
#: the categories every model must price (embeddings say output = "0")
REQUIRED_CATEGORIES = ("input", "output")
#: category -> the category whose price it falls back to when it has none
FALLBACK = {"cached_input": "input", "cache_write": "input", "reasoning": "output"}
_SCALED_MEMO = 64


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """What one model costs in one version: per 1M tokens, and per unit (dated data)."""

    model: str
    per_million: Mapping[str, Decimal]
    units: Mapping[str, Decimal]
    #: where the price comes from (URL) and the date it was read
    source: str
    #: (per 1M, per token) after the fallback rule, in `TOKEN_CATEGORIES` order; built
    #: once so rating a request is a multiply and an add per category
    resolved: tuple[tuple[Decimal, Decimal], ...] = field(init=False, repr=False, compare=False)

    #: `resolved` times a multiplier, memoised per multiplier (windows and plans are few)
    _scaled: dict[Decimal, tuple[tuple[Decimal, Decimal], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_CATEGORIES if c not in self.per_million]
        if missing:
            raise ValueError(f"model {self.model!r} has no {missing[0]} price")
        prices = [self.price_of(category) for category in TOKEN_CATEGORIES]
        object.__setattr__(self, "resolved", tuple((p, p.scaleb(-6)) for p in prices))
        object.__setattr__(self, "_scaled", {})

    def scaled(
        self, factor: Decimal, multiply: Callable[[Decimal, Decimal], Decimal]
    ) -> tuple[tuple[Decimal, Decimal], ...]:
        """`resolved` with every price times `factor` (exact: `multiply` is the caller's)."""
        found = self._scaled.get(factor)
        if found is None:
            found = tuple(
                (unit, unit.scaleb(-6)) for unit in (multiply(p, factor) for p, _ in self.resolved)
            )
            if len(self._scaled) < _SCALED_MEMO:
                self._scaled[factor] = found
        return found

    def price_of(self, category: str) -> Decimal:
        """The price per 1M tokens of `category`, after the fallback rule."""
        price = self.per_million.get(category)
        if price is None:
            price = self.per_million[FALLBACK[category]]
        return price


@dataclass(frozen=True, slots=True)
class PriceWindow:
    """A daily time-of-day window with its price multiplier (e.g. off-peak 50% off)."""

    name: str
    window: DailyWindow
    multiplier: Decimal
    #: fnmatch globs of the models it applies to; () = every model of the version
    models: tuple[str, ...]

    def applies_to(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, glob) for glob in self.models)


@dataclass(frozen=True, slots=True)
class PriceVersion:
    """One published, immutable version of a book."""

    id: str
    book: str
    currency: str
    effective_from: datetime
    published_at: datetime
    models: Mapping[str, ModelPrice]
    #: first match wins, in the order they were published
    windows: tuple[PriceWindow, ...]
    note: str

    def window_at(self, model: str, at: datetime) -> PriceWindow | None:
        """The window `model` is priced under at the instant `at`, if any."""
        for window in self.windows:
            if window.applies_to(model) and window.window.contains(at):
                return window
        return None


def version_id(book: str, effective_from: datetime) -> str:
    """`book@2026-11-01` at midnight UTC, else `book@2026-11-01T12:30:00Z`."""
    at = effective_from.astimezone(UTC)
    if at.hour == at.minute == at.second == at.microsecond == 0:
        return f"{book}@{at:%Y-%m-%d}"
    return f"{book}@{iso_utc(at)}"


def iso_utc(at: datetime) -> str:
    """An aware instant as ISO 8601 in UTC with a `Z` (the documents' format)."""
    text = at.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


__all__ = [
    "FALLBACK",
    "REQUIRED_CATEGORIES",
    "TOKEN_CATEGORIES",
    "ModelPrice",
    "PriceVersion",
    "PriceWindow",
    "iso_utc",
    "version_id",
]
