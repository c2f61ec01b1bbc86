"""The canonical encoding a record's hash is computed over: the format of the chain.

Changing anything here invalidates every stored hash, so it is spelled out once:

    hash = sha256(utf8(canonical_json({
        "seq": 42, "id": "aud_...", "at": "2026-01-01T00:00:00.000000Z",
        "actor": "cli", "action": "key.create", "target": "key_...",
        "details": {...}, "prev_hash": "<64 hex>",
    }))).hexdigest()

`canonical_json` is JSON with sorted keys, no whitespace, non-ASCII kept as UTF-8
and no NaN or infinity, so any language can recompute a hash from a row.
The first record links to `GENESIS_HASH`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: prev_hash of the first record
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted-key compact JSON; raises `ValueError` / `TypeError` for non-JSON values."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_at(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a "Z": one spelling for every database."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(
    *,
    seq: int,
    id: str,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 hex digest of one record's canonical encoding."""
    payload = {
        "seq": seq,
        "id": id,
        "at": format_at(at),
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


__all__ = ["GENESIS_HASH", "canonical_json", "format_at", "record_hash"]
