"""The hash format is a contract: pinned here byte for byte."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tokenward.audit import GENESIS_HASH, canonical_json, record_hash
from tokenward.audit.encoding import format_at

AT = datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)
RECORD = {
    "seq": 1,
    "id": "aud_000000000000000000000001",
    "at": AT,
    "actor": "cli",
    "action": "key.create",
    "target": "key_1",
    "details": {"b": [1, 2.5, None, True], "a": "身份证"},
    "prev_hash": GENESIS_HASH,
}


def test_the_hash_is_sha256_of_sorted_compact_utf8_json() -> None:
    spelled_out = (
        '{"action":"key.create","actor":"cli","at":"2026-01-02T03:04:05.006789Z",'
        '"details":{"a":"身份证","b":[1,2.5,null,true]},"id":"aud_000000000000000000000001",'
        f'"prev_hash":"{"0" * 64}","seq":1,"target":"key_1"}}'
    )
    expected = hashlib.sha256(spelled_out.encode("utf-8")).hexdigest()
    assert record_hash(**RECORD) == expected  # type: ignore[arg-type]
    assert expected == "1d8456c9021a27b2cc17a88f97f30c72b2258bdb3d0a53ed830c754ce1a4f599"


def test_every_field_is_covered_by_the_hash() -> None:
    base = record_hash(**RECORD)  # type: ignore[arg-type]
    changes = {
        "seq": 2,
        "id": "aud_x",
        "at": AT + timedelta(microseconds=1),
        "actor": "system",
        "action": "key.revoke",
        "target": "key_2",
        "details": {"a": "身份证", "b": [1, 2.5, None, False]},
        "prev_hash": "f" * 64,
    }
    for field, value in changes.items():
        assert record_hash(**{**RECORD, field: value}) != base, field  # type: ignore[arg-type]


def test_at_is_utc_with_microseconds_whatever_the_input_zone() -> None:
    plus8 = timezone(timedelta(hours=8))
    assert format_at(datetime(2026, 1, 2, 11, 4, 5, tzinfo=plus8)) == "2026-01-02T03:04:05.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_at(datetime(2026, 1, 2))


def test_canonical_json_refuses_what_json_cannot_round_trip() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})
