"""What a record's `details` may hold: JSON, and never a secret.

The audit log is kept forever and read by more people than the traffic it
describes, so a leaked key or ID number in it would outlive any rotation. Callers
record *what, where and which rule*: a guard finding's `as_dict()` (type, span,
score, reason, location, action) is safe as it is, while the matched text is not.
Two checks enforce this at `append()` time, so the mistake fails in tests rather
than landing in the log:

- keys named like raw content (`SENSITIVE_KEYS`: "text", "value", "match", ...)
  are refused anywhere in the tree; `scrub_details()` drops them for callers that
  hold a richer object;
- every string (keys, values, and the record's actor and target) goes through a
  `SecretCheck`; the default, `GuardSecretCheck`, uses the guard's validated
  detectors (vendor keys, tokens, private keys, resident IDs, bank cards) and
  recognises Tokenward's own "tw-" keys, which no vendor detector knows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokenward.guard import SECRET_TYPES, Scanner, default_scanner

#: keys that name raw matched content; refused in details at any depth
SENSITIVE_KEYS = frozenset(
    {"text", "value", "match", "matched", "matched_text", "secret", "raw", "content"}
)
#: finding types that are never acceptable in the log, besides every secret type
_NEVER_LOGGED = SECRET_TYPES | {"cn_resident_id", "bank_card"}
#: a whole Tokenward key ("tw-" + 43 url-safe characters); the 11-character display
#: prefix stays allowed, so 20 characters after "tw-" is safely more than a prefix
_TOKENWARD_KEY = re.compile(r"(?<![A-Za-z0-9_-])tw-[A-Za-z0-9_-]{20,}")

#: returns what kind of secret `value` contains, or None when it holds none
SecretCheck = Callable[[str], str | None]


class GuardSecretCheck:
    """The default `SecretCheck`: the guard's data detectors plus Tokenward key shapes.

    The scanner is built on the first call (about 70 ms), so commands that only read
    the log never pay for it. Pass the gateway's own `Scanner` to share it.
    """

    def __init__(self, scanner: Scanner | None = None, *, min_score: float = 0.5) -> None:
        self._scanner = scanner
        self._min_score = min_score

    def __call__(self, value: str) -> str | None:
        if _TOKENWARD_KEY.search(value):
            return "tokenward_key"
        if self._scanner is None:
            self._scanner = default_scanner()
        for finding in self._scanner.scan_data(value):
            if finding.type in _NEVER_LOGGED and finding.score >= self._min_score:
                return finding.type
        return None


def check_text(field: str, value: str, secret_check: SecretCheck) -> None:
    """Raise `ValueError` when `value` (the record's `field`) looks like a secret."""
    kind = secret_check(value)
    if kind is not None:
        raise ValueError(f"audit {field} looks like a secret ({kind}); record where, not what")


def clean_details(details: Mapping[str, Any] | None, secret_check: SecretCheck) -> dict[str, Any]:
    """A JSON-ready copy of `details` (tuples become lists), or `ValueError` / `TypeError`.

    Refuses non-string keys, non-JSON values, NaN and infinity, `SENSITIVE_KEYS`
    and any string `secret_check` flags; the path of the offending value is named.
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise TypeError(f"audit details must be a mapping, not {type(details).__name__}")
    cleaned = _clean(details, "details", secret_check)
    assert isinstance(cleaned, dict)  # a Mapping always cleans to a dict
    return cleaned


def scrub_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `details` without `SENSITIVE_KEYS`, at any depth.

    >>> scrub_details({"type": "email", "value": "a@b.cn", "spans": [{"text": "x", "start": 3}]})
    {'type': 'email', 'spans': [{'start': 3}]}
    """
    scrubbed = _scrub(details)
    assert isinstance(scrubbed, dict)
    return scrubbed


def _clean(value: Any, path: str, secret_check: SecretCheck) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit {path} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, str):
        check_text(path, value, secret_check)
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit {path} has a non-string key {key!r}")
            if key.lower() in SENSITIVE_KEYS:
                raise ValueError(
                    f"audit {path}.{key}: a {key!r} field would hold raw content; "
                    "record type, location and rule (scrub_details() drops it)"
                )
            check_text(f"{path} key", key, secret_check)
            out[key] = _clean(item, f"{path}.{key}", secret_check)
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_clean(item, f"{path}[{i}]", secret_check) for i, item in enumerate(value)]
    raise TypeError(f"audit {path} is a {type(value).__name__}, which is not JSON")


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if str(k).lower() not in SENSITIVE_KEYS}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


__all__ = [
    "SENSITIVE_KEYS",
    "GuardSecretCheck",
    "SecretCheck",
    "check_text",
    "clean_details",
    "scrub_details",
]
