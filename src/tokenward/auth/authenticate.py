"""`KeyAuthenticator`: an API key to a `Principal`, or `AuthenticationFailed`.

The look-up runs on a thread (the store is synchronous) and its answer, including
"no such key", is cached for `ttl_s` (default 0.5 s): long enough to take the
database off the hot path, short enough that a key created or revoked by the CLI in
another process takes effect within a second. Expiry is checked against the clock on
every call, not cached. Concurrent misses for one key share a single look-up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tokenward.auth.keys import display_prefix, hash_key, looks_like_key, same_secret
from tokenward.auth.principal import Principal, Role, config_admin_principal
from tokenward.clock import Clock
from tokenward.errors import AuthenticationFailed, PermissionDenied
from tokenward.storage.db import Store
from tokenward.storage.repos import keys as keys_repo
from tokenward.storage.repos.keys import KeyRow

MISSING_KEY = "missing API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>')"
INVALID_KEY = "invalid API key"
DEFAULT_TTL_S = 0.5
DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    fresh_until: float  # clock.monotonic() deadline
    key: KeyRow | None


class KeyAuthenticator:
    """Resolves API keys against the store, with a short, bounded cache.

    >>> auth = KeyAuthenticator(store, SystemClock(), ttl_s=0.5, admin_key=None)
    >>> principal = await auth.authenticate("tw-...")
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        ttl_s: float = DEFAULT_TTL_S,
        admin_key: str | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError("ttl_s must be >= 0 and max_entries >= 1")
        self._store = store
        self._clock = clock
        self._ttl_s = ttl_s
        self._admin_key = admin_key or None
        self._max_entries = max_entries
        # insertion order == expiry order (one TTL for all), so the first entry goes first
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[KeyRow | None]] = {}

    async def authenticate(self, raw_key: str | None) -> Principal:
        """The principal of `raw_key`; `AuthenticationFailed` says why when there is none."""
        raw = (raw_key or "").strip()
        if not raw:
            raise AuthenticationFailed(MISSING_KEY)
        if self._admin_key is not None and same_secret(raw, self._admin_key):
            return config_admin_principal()
        if not looks_like_key(raw):
            raise AuthenticationFailed(INVALID_KEY)
        row = await self._lookup(hash_key(raw))
        if row is None:
            raise AuthenticationFailed(INVALID_KEY)
        if row.revoked_at is not None:
            raise AuthenticationFailed(f"API key {display_prefix(raw)}... has been revoked")
        if row.expires_at is not None and row.expires_at <= self._clock.now():
            when = row.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            raise AuthenticationFailed(f"API key {display_prefix(raw)}... expired at {when}")
        role: Role = "admin" if row.role == "admin" else "user"
        return Principal(
            account_id=row.account_id,
            account_name=row.account_name,
            key_id=row.id,
            key_name=row.name,
            role=role,
            tier=row.tier,
            billing_mode=row.billing_mode,
        )

    async def authenticate_admin(self, raw_key: str | None) -> Principal:
        """Like `authenticate`, and `PermissionDenied` unless the key has the admin role."""
        principal = await self.authenticate(raw_key)
        if not principal.is_admin:
            raise PermissionDenied("this needs an admin key")
        return principal

    @property
    def cache_size(self) -> int:
        """How many answers are cached (bounded by `max_entries`)."""
        return len(self._cache)

    def clear(self) -> None:
        """Forget every cached answer (e.g. after this process revoked a key)."""
        self._cache.clear()

    async def _lookup(self, digest: str) -> KeyRow | None:
        entry = self._cache.get(digest)
        if entry is not None and entry.fresh_until > self._clock.monotonic():
            return entry.key
        task = self._inflight.get(digest)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(digest))
            self._inflight[digest] = task
            task.add_done_callback(lambda done: self._settle(digest, done))
        # shield: one caller giving up must not cancel the look-up the others wait on
        return await asyncio.shield(task)

    async def _fetch(self, digest: str) -> KeyRow | None:
        # the answer is as old as the moment we asked, so the TTL starts here
        started = self._clock.monotonic()
        row = await asyncio.to_thread(self._query, digest)
        self._remember(digest, _Entry(started + self._ttl_s, row))
        return row

    def _query(self, digest: str) -> KeyRow | None:
        with self._store.transaction() as conn:
            return keys_repo.find_by_hash(conn, digest)

    def _remember(self, digest: str, entry: _Entry) -> None:
        self._cache.pop(digest, None)
        while len(self._cache) >= self._max_entries:
            del self._cache[next(iter(self._cache))]
        self._cache[digest] = entry

    def _settle(self, digest: str, task: asyncio.Task[KeyRow | None]) -> None:
        self._inflight.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a look-up nobody awaits any more is quiet


__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_TTL_S",
    "INVALID_KEY",
    "MISSING_KEY",
    "KeyAuthenticator",
]
