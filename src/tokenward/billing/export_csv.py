"""Reading a provider's usage/billing export (CSV) into totals per UTC day and model.

The generic format is a CSV with a header row and these columns (any token column
may be absent; `cost` and `currency` are optional):

    date,model,input_tokens,output_tokens,cached_input_tokens,cache_write_tokens,reasoning_tokens,cost,currency

Token counts follow Tokenward's usage semantics: `input_tokens` includes cached
input and cache writes, `output_tokens` includes reasoning. `date` is an ISO date,
an ISO date-time (naive = UTC) or Unix seconds; rows are summed per UTC day and
model. Common provider column names are recognised (`ALIASES`, e.g. the OpenAI
usage export's `start_time` and `input_cached_tokens`); `mapping` maps any other
column to a field. Bad input is an `InvalidRequest` naming the line and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from tokenward.errors import InvalidRequest
from tokenward.money import check_currency, parse_amount

TOKEN_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
FIELDS = ("date", "model", *TOKEN_FIELDS, "cost", "currency")

#: field -> column names providers use for it (lower case), the field's own name first
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "start_time", "bucket_start_time", "usage_date", "start_date"),
    "model": ("model", "model_name", "model_id"),
    "input_tokens": ("input_tokens", "prompt_tokens"),
    "cached_input_tokens": (
        "cached_input_tokens",
        "input_cached_tokens",
        "cached_tokens",
        "cache_read_input_tokens",
    ),
    "cache_write_tokens": ("cache_write_tokens", "cache_creation_input_tokens"),
    "output_tokens": ("output_tokens", "completion_tokens"),
    "reasoning_tokens": ("reasoning_tokens", "output_reasoning_tokens"),
    "cost": ("cost", "amount_value", "amount"),
    "currency": ("currency", "amount_currency"),
}
_INTEGER = re.compile(r"\d+")
_EPOCH = re.compile(r"\d{9,11}")


@dataclass(slots=True)
class ExportTotals:
    """A provider's totals for one (day, model); a token field is None if not exported."""

    tokens: dict[str, int | None]
    cost: Decimal | None = None
    currency: str = ""
    rows: int = 0
    currencies: set[str] = field(default_factory=set)


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["col=field", ...]` to {column: field}; unknown fields are refused."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, name = item.partition("=")
        column, name = column.strip().lower(), name.strip().lower()
        if not sep or not column or name not in FIELDS:
            raise InvalidRequest(
                f"bad mapping {item!r}: expected COLUMN=FIELD, FIELD one of {', '.join(FIELDS)}",
                param="map",
            )
        mapping[column] = name
    return mapping


def parse_export(
    text: str, mapping: Mapping[str, str] | None = None
) -> dict[tuple[str, str], ExportTotals]:
    """Totals per (UTC day 'YYYY-MM-DD', model) of the export's rows."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise InvalidRequest("the export is empty: expected a CSV with a header row", param="file")
    columns = _columns([h.strip().lower() for h in header], dict(mapping or {}))
    exported = [f for f in TOKEN_FIELDS if f in columns]
    totals: dict[tuple[str, str], ExportTotals] = {}
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) < len(header):
            cells = cells + [""] * (len(header) - len(cells))

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[columns[name]].strip()

        day = _day(cell("date"), line_no)
        model = cell("model")
        if not model:
            raise InvalidRequest(f"line {line_no}: 'model' is empty", param="file")
        entry = totals.setdefault(
            (day, model),
            ExportTotals(tokens={f: (0 if f in exported else None) for f in TOKEN_FIELDS}),
        )
        entry.rows += 1
        for name in exported:
            entry.tokens[name] = (entry.tokens[name] or 0) + _count(cell(name), name, line_no)
        if "cost" in columns and cell("cost"):
            try:
                cost = parse_amount(cell("cost"), "cost", allow_negative=True)
            except InvalidRequest as exc:
                raise InvalidRequest(f"line {line_no}: {exc.message}", param="file") from None
            entry.cost = (entry.cost or Decimal(0)) + cost
        if "currency" in columns and cell("currency"):
            try:
                entry.currencies.add(check_currency(cell("currency")))
            except InvalidRequest as exc:
                raise InvalidRequest(f"line {line_no}: {exc.message}", param="file") from None
    for (day, model), entry in totals.items():
        if len(entry.currencies) > 1:
            raise InvalidRequest(
                f"{day} {model}: several currencies in the export "
                f"({', '.join(sorted(entry.currencies))})",
                param="file",
            )
        entry.currency = next(iter(entry.currencies), "")
    return totals


def _columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Field -> column index: explicit mappings first, then the aliases."""
    columns: dict[str, int] = {}
    for column, name in mapping.items():
        if column not in header:
            raise InvalidRequest(
                f"mapped column {column!r} is not in the export header ({', '.join(header)})",
                param="map",
            )
        columns[name] = header.index(column)
    for name, aliases in ALIASES.items():
        if name in columns:
            continue
        found = next((a for a in aliases if a in header), None)
        if found is not None:
            columns[name] = header.index(found)
    missing = [name for name in ("date", "model") if name not in columns]
    if missing:
        raise InvalidRequest(
            f"the export lacks column(s) {', '.join(missing)} (header: {', '.join(header)}); "
            "map them with --map COLUMN=FIELD",
            param="file",
        )
    if not any(name in columns for name in (*TOKEN_FIELDS, "cost")):
        raise InvalidRequest(
            f"the export has no token or cost column (header: {', '.join(header)}); "
            f"expected some of {', '.join((*TOKEN_FIELDS, 'cost'))}",
            param="file",
        )
    return columns


def _day(value: str, line_no: int) -> str:
    """The UTC day of an ISO date, ISO date-time or Unix-seconds value."""
    try:
        if _EPOCH.fullmatch(value):
            return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d")
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"line {line_no}: 'date' is not an ISO date, date-time or Unix time: {value!r}",
            param="file",
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d")


def _count(value: str, name: str, line_no: int) -> int:
    """A token count: a whole non-negative number ('' counts 0); '1.0' is refused."""
    if not value:
        return 0
    if not _INTEGER.fullmatch(value.replace("_", "x")):
        raise InvalidRequest(
            f"line {line_no}: {name!r} must be a whole number of tokens, got {value!r}",
            param="file",
        )
    return int(value)


__all__ = ["ALIASES", "FIELDS", "TOKEN_FIELDS", "ExportTotals", "parse_export", "parse_mapping"]
