"""What the simulator says: its word list and schema-driven tool-call arguments.

Every word is one ``\\w+`` match, hence exactly one token under the engine's rule.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import orjson

_WORDS = """
    token meter price limit guard ledger quota budget stream usage model reply agent
    plan credit window cache prompt output input reason route retry upstream gateway
    account invoice event chunk batch queue capacity policy audit record balance grant
    settle reserve release charge ticket rate tier seat month week hour minute second
    signal vector answer draft review summary context memory tool call result value
    simple steady quiet bright clear rapid gentle careful honest modern useful ready
"""
#: plain words, each one `\w+` match, so each is exactly one token
VOCABULARY: tuple[str, ...] = tuple(_WORDS.split())
CITIES = ("Paris", "Tokyo", "Berlin", "Lima", "Nairobi", "Oslo", "Seoul", "Toronto")


def words(rng: random.Random, count: int) -> tuple[str, ...]:
    """`count` seeded words, the first capitalised."""
    chosen = rng.choices(VOCABULARY, k=count)
    if chosen:
        chosen[0] = chosen[0].capitalize()
    return tuple(chosen)


def tool_arguments(schema: Mapping[str, Any], rng: random.Random) -> str:
    """Arguments JSON for a function: its required properties with seeded, typed values."""
    value = _schema_value(schema, rng, "", 0)
    return orjson.dumps(value if isinstance(value, dict) else {}).decode()


def _schema_value(schema: Any, rng: random.Random, name: str, depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > 8:
        return VOCABULARY[rng.randrange(len(VOCABULARY))]
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][rng.randrange(len(schema["enum"]))]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(combinator) or () if o.get("type") != "null"]
        if options:
            return _schema_value(options[0], rng, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        required = [k for k in schema.get("required") or () if k in props]
        return {k: _schema_value(props[k], rng, k, depth + 1) for k in required}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        items = schema.get("items") or {"type": "string"}
        return [_schema_value(items, rng, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        high = schema.get("maximum", max(low, 100))
        if kind == "integer":
            return rng.randint(int(low), int(high))
        return round(rng.uniform(float(low), float(high)), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string_value(schema, rng, name)


def _string_value(schema: Mapping[str, Any], rng: random.Random, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "date-time":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T09:30:00Z"
    if fmt == "email":
        return f"{VOCABULARY[rng.randrange(len(VOCABULARY))]}@example.com"
    if fmt in ("uri", "url"):
        return f"https://example.com/{VOCABULARY[rng.randrange(len(VOCABULARY))]}"
    if any(hint in name.lower() for hint in ("city", "location", "place")):
        return CITIES[rng.randrange(len(CITIES))]
    return " ".join(words(rng, 1 + rng.randrange(3)))


__all__ = ["CITIES", "VOCABULARY", "tool_arguments", "words"]
