"""Price documents as TOML, JSON and CSV text: the same document shape in each.

TOML and JSON carry `document.py`'s shape as it is. CSV is flat, one row per price
or window, with a `kind` column:

- `kind=price`: book, currency, effective_from, note, model, category, price, source.
  `category` is a token category (`input`, `cached_input`, `cache_write`, `output`,
  `reasoning`) or `unit:<name>` for a unit price (`unit:image`).
- `kind=window`: book, currency, effective_from, note, window (its name), start, end,
  timezone, multiplier, models (globs separated by spaces; empty = every model).

Rows of one version repeat its book, currency, effective_from and note; windows
keep their row order (the first matching window wins). Every value is a string, so
prices stay exact in all three formats and `decode(encode(doc)) == doc`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from typing import Any, Literal

import orjson

from tokenward.errors import InvalidRequest
from tokenward.pricing.book import TOKEN_CATEGORIES

Format = Literal["toml", "json", "csv"]
FORMATS: tuple[Format, ...] = ("toml", "json", "csv")
CSV_COLUMNS = (
    "kind",
    "book",
    "currency",
    "effective_from",
    "note",
    "model",
    "category",
    "price",
    "source",
    "window",
    "start",
    "end",
    "timezone",
    "multiplier",
    "models",
)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def check_format(value: object) -> Format:
    for fmt in FORMATS:
        if value == fmt:
            return fmt
    raise InvalidRequest(f"unknown format {value!r}: expected toml, json or csv", param="format")


def format_of_path(name: str) -> Format:
    """The format a file name implies (`.toml`, `.json`, `.csv`)."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in FORMATS:
        return check_format(suffix)
    raise InvalidRequest(
        f"cannot tell the format of {name!r} from its extension: use --format toml|json|csv",
        param="format",
    )


def encode(document: dict[str, Any], fmt: Format) -> str:
    """A document (as `document_of` makes it) as text."""
    if fmt == "json":
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "toml":
        return _to_toml(document)
    return _to_csv(document)


def decode(text: str | bytes, fmt: Format) -> Any:
    """Text to a document (not yet validated: `parse_document` does that)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest("the price document is not UTF-8 text") from None
    if fmt == "json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"not valid JSON: {exc}") from None
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidRequest(f"not valid TOML: {exc}") from None
    return _from_csv(text)


# --- TOML: a writer for exactly this shape (the stdlib only reads TOML) ------------


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        # a JSON string is a valid TOML basic string (same escapes, \uXXXX included)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")  # pragma: no cover


def _toml_table(
    out: list[str], header: str, table: dict[str, Any], nested: tuple[str, ...]
) -> None:
    out.append(f"[[{header}]]")
    out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if k not in nested)
    out.append("")


def _to_toml(document: dict[str, Any]) -> str:
    out: list[str] = []
    for book in document["books"]:
        _toml_table(out, "books", book, ("versions",))
        for version in book["versions"]:
            _toml_table(out, "books.versions", version, ("windows", "models"))
            for window in version.get("windows", ()):
                _toml_table(out, "books.versions.windows", window, ())
            for model in version["models"]:
                _toml_table(out, "books.versions.models", model, ())
    return "\n".join(out)


# --- CSV ---------------------------------------------------------------------------


def _to_csv(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for book in document["books"]:
        for version in book["versions"]:
            head = {
                "book": book["name"],
                "currency": book["currency"],
                "effective_from": version["effective_from"],
                "note": version["note"],
            }
            for window in version.get("windows", ()):
                writer.writerow(
                    {
                        "kind": "window",
                        **head,
                        "window": window["name"],
                        "start": window["start"],
                        "end": window["end"],
                        "timezone": window["timezone"],
                        "multiplier": window["multiplier"],
                        "models": " ".join(window["models"]),
                    }
                )
            for model in version["models"]:
                row = {"kind": "price", **head, "model": model["model"], "source": model["source"]}
                for category in TOKEN_CATEGORIES:
                    if category in model:
                        writer.writerow({**row, "category": category, "price": model[category]})
                for unit, price in model.get("units", {}).items():
                    writer.writerow({**row, "category": f"unit:{unit}", "price": price})
    return buffer.getvalue()


def _same(row_no: int, what: str, stored: dict[str, Any], key: str, value: str) -> None:
    if stored.setdefault(key, value) != value:
        raise InvalidRequest(
            f"csv row {row_no}: {what} {key} {value!r} differs from an earlier row's "
            f"{stored[key]!r}"
        )


def _from_csv(text: str) -> dict[str, Any]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c
        for c in ("kind", "book", "currency", "effective_from")
        if c not in (reader.fieldnames or ())
    ]
    if missing:
        raise InvalidRequest(f"csv: missing column(s) {', '.join(missing)}")
    books: dict[str, dict[str, Any]] = {}
    for row_no, row in enumerate(reader, start=2):
        cell = {
            k: (v or "").strip() if k != "note" and k != "source" else (v or "")
            for k, v in row.items()
            if k
        }
        book = books.setdefault(cell["book"], {"name": cell["book"], "versions": {}})
        _same(row_no, "book", book, "currency", cell["currency"])
        version = book["versions"].setdefault(
            cell["effective_from"],
            {"effective_from": cell["effective_from"], "windows": [], "models": {}},
        )
        _same(row_no, "version", version, "note", cell.get("note", ""))
        if cell["kind"] == "window":
            version["windows"].append(
                {
                    "name": cell.get("window", ""),
                    "start": cell.get("start", ""),
                    "end": cell.get("end", ""),
                    "timezone": cell.get("timezone", ""),
                    "multiplier": cell.get("multiplier", ""),
                    "models": cell.get("models", "").split(),
                }
            )
        elif cell["kind"] == "price":
            _price_row(row_no, version["models"], cell)
        else:
            raise InvalidRequest(
                f"csv row {row_no}: kind must be 'price' or 'window', got {cell['kind']!r}"
            )
    return {
        "books": [
            {
                "name": book["name"],
                "currency": book["currency"],
                "versions": [
                    {**v, "models": list(v["models"].values())} for v in book["versions"].values()
                ],
            }
            for book in books.values()
        ]
    }


def _price_row(row_no: int, models: dict[str, dict[str, Any]], cell: dict[str, str]) -> None:
    name, category = cell.get("model", ""), cell.get("category", "")
    model = models.setdefault(name, {"model": name})
    _same(row_no, f"model {name!r}", model, "source", cell.get("source", ""))
    if category.startswith("unit:"):
        units = model.setdefault("units", {})
        target, key = units, category.removeprefix("unit:")
    elif category in TOKEN_CATEGORIES:
        target, key = model, category
    else:
        raise InvalidRequest(
            f"csv row {row_no}: unknown category {category!r}: expected "
            f"{', '.join(TOKEN_CATEGORIES)} or unit:<name>"
        )
    if key in target:
        raise InvalidRequest(f"csv row {row_no}: {name!r} {category!r} is priced twice")
    target[key] = cell.get("price", "")


__all__ = ["CSV_COLUMNS", "FORMATS", "Format", "check_format", "decode", "encode", "format_of_path"]
