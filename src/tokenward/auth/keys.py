"""API key format: "tw-" + 43 url-safe characters (256 random bits).

Only the sha256 of a key is stored; plain sha256 (no salt, no slow hash) is right
for 256-bit random secrets, where there is nothing to brute-force, and it keeps the
per-request look-up to one indexed equality. The first 11 characters ("tw-" and 8
random ones) are kept as a display prefix so people can tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "tw-"
DISPLAY_PREFIX_LEN = 11
#: longer than any key we issue; anything longer is rejected before hashing
MAX_KEY_LEN = 256


def generate_key() -> str:
    """A new random key, e.g. "tw-Qm3v...". Shown once; store only `hash_key()` of it."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw: str) -> str:
    """The sha256 hex digest stored for a key."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def display_prefix(raw: str) -> str:
    """The part of a key that may be shown: "tw-" and 8 characters."""
    return raw[:DISPLAY_PREFIX_LEN]


def looks_like_key(raw: str) -> bool:
    """Cheap shape check before any look-up: our prefix, sane length, printable ASCII."""
    return (
        raw.startswith(KEY_PREFIX)
        and DISPLAY_PREFIX_LEN < len(raw) <= MAX_KEY_LEN
        and raw.isascii()
        and raw.isprintable()
    )


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


__all__ = [
    "DISPLAY_PREFIX_LEN",
    "KEY_PREFIX",
    "MAX_KEY_LEN",
    "display_prefix",
    "generate_key",
    "hash_key",
    "looks_like_key",
    "same_secret",
]
