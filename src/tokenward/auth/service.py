"""Accounts and API keys: the functions the CLI and the admin HTTP API both call.

Synchronous on purpose (the store is); async callers wrap them in
`asyncio.to_thread`. They validate input (`InvalidRequest`), report unknown names
(`NotFound`) and never return a key hash; a new key's plaintext is returned once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from tokenward.audit.admin import record_admin_action
from tokenward.auth.keys import (
    DISPLAY_PREFIX_LEN,
    KEY_PREFIX,
    display_prefix,
    generate_key,
    hash_key,
)
from tokenward.auth.principal import ROLES, Role
from tokenward.auth.tiers import check_tier
from tokenward.clock import Clock
from tokenward.errors import InvalidRequest, NotFound, StoreError
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos import keys as keys_repo
from tokenward.storage.repos.accounts import AccountRow
from tokenward.storage.repos.keys import KeyRow, NewKey

BillingMode = Literal["postpaid", "prepaid"]
BILLING_MODES: tuple[BillingMode, ...] = ("postpaid", "prepaid")
KeyStatus = Literal["active", "revoked", "expired"]
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_KEY_NAME_LEN = 100


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as shown to people and the admin API."""

    id: str
    name: str
    billing_mode: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "billing_mode": self.billing_mode,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as shown to people: its display prefix, never its hash."""

    id: str
    account_id: str
    account_name: str
    name: str
    prefix: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    #: capacity-pool priority tier ('' = none)
    tier: str = ""

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account_name,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role,
            "status": self.status(now),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "tier": self.tier,
        }


def create_account(
    store: Store, name: str, billing: str = "postpaid", *, clock: Clock, actor: str = "cli"
) -> AccountInfo:
    """Create account `name`; `InvalidRequest` if the name is malformed or taken."""
    if not _ACCOUNT_NAME.fullmatch(name):
        raise InvalidRequest(
            f"invalid account name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            param="name",
        )
    if billing not in BILLING_MODES:
        raise InvalidRequest(f"billing must be postpaid or prepaid, got {billing!r}")
    row = AccountRow(id=new_id("acc_"), name=name, billing_mode=billing, created_at=clock.now())
    with store.transaction(write=True) as conn:
        created = accounts_repo.insert_account(conn, row)
    if not created:
        raise InvalidRequest(f"account {name!r} already exists", param="name")
    record_admin_action(store, clock, actor, "account.create", name, {"billing": billing})
    return _account(row)


def list_accounts(store: Store) -> list[AccountInfo]:
    """Every account, by name."""
    with store.transaction() as conn:
        return [_account(r) for r in accounts_repo.list_all(conn)]


def get_account(store: Store, name: str) -> AccountInfo:
    """The account called `name`; `NotFound` if there is none."""
    with store.transaction() as conn:
        row = accounts_repo.get_by_name(conn, name)
    if row is None:
        raise NotFound(f"unknown account {name!r}")
    return _account(row)


def create_key(
    store: Store,
    account_name: str,
    name: str = "default",
    expires_at: datetime | None = None,
    role: str = "user",
    *,
    clock: Clock,
    actor: str = "cli",
    tier: str = "",
    tiers: Sequence[str] = (),
) -> tuple[KeyInfo, str]:
    """Issue a key for `account_name`; returns its info and the plaintext (shown once).

    `tier` must be one of the configured `tiers` (`[limits] tiers`), or '' for none."""
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME_LEN:
        raise InvalidRequest(f"key name must be 1-{MAX_KEY_NAME_LEN} characters", param="name")
    if role not in ROLES:
        raise InvalidRequest(f"role must be user or admin, got {role!r}", param="role")
    check_tier(tier, tiers)
    now = clock.now()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidRequest("expiry must carry a time zone (UTC)", param="expires_at")
        if expires_at <= now:
            raise InvalidRequest("expiry must be in the future", param="expires_at")
    with store.transaction(write=True) as conn:
        account = accounts_repo.get_by_name(conn, account_name)
        if account is None:
            raise NotFound(f"unknown account {account_name!r}")
        info, plaintext = _issue(conn, account, name, _role(role), now, expires_at, tier)
    details = {"account": account_name, "name": name, "role": role, "expires_at": str(expires_at)}
    if tier:
        details["tier"] = tier
    record_admin_action(store, clock, actor, "key.create", info.id, details)
    return info, plaintext


def list_keys(store: Store, account: str | None = None) -> list[KeyInfo]:
    """Keys of account `account` (a name), or of every account."""
    with store.transaction() as conn:
        account_id = None
        if account is not None:
            row = accounts_repo.get_by_name(conn, account)
            if row is None:
                raise NotFound(f"unknown account {account!r}")
            account_id = row.id
        return [_key(r) for r in keys_repo.list_keys(conn, account_id)]


def revoke_key(store: Store, key_id_or_prefix: str, *, clock: Clock, actor: str = "cli") -> KeyInfo:
    """Revoke a key named by its id ("key_..."), its display prefix or the key itself.

    Idempotent: revoking a revoked key returns it unchanged. Running gateways stop
    accepting it within their key cache TTL (under a second).
    """
    ident = key_id_or_prefix.strip()
    with store.transaction(write=True) as conn:
        row = _find_one(conn, ident)
        revoking = row.revoked_at is None
        if revoking:
            keys_repo.revoke(conn, row.id, clock.now())
            row = keys_repo.find_by_id(conn, row.id) or row
    if revoking:
        record_admin_action(
            store, clock, actor, "key.revoke", row.id, {"account": row.account_name}
        )
    return _key(row)


def new_id(prefix: str) -> str:
    """A new random id such as "acc_3f2a..." (96 bits)."""
    return prefix + secrets.token_hex(12)


def _find_one(conn: Connection, ident: str) -> KeyRow:
    if ident.startswith("key_"):
        found = keys_repo.find_by_id(conn, ident)
        if found is None:
            raise NotFound(f"unknown key id {ident!r}")
        return found
    if not ident.startswith(KEY_PREFIX):
        raise InvalidRequest(f"expected a key id (key_...) or a key prefix (tw-...), got {ident!r}")
    if len(ident) > DISPLAY_PREFIX_LEN:
        # the whole key was given: find it by hash, and never echo it back
        found = keys_repo.find_by_hash(conn, hash_key(ident))
        if found is None:
            raise NotFound("no key matches the key given")
        return found
    matches = keys_repo.find_by_prefix(conn, ident)
    if not matches:
        raise NotFound(f"no key with prefix {ident!r}")
    if len(matches) > 1:
        ids = ", ".join(m.id for m in matches)
        raise InvalidRequest(f"prefix {ident!r} matches several keys ({ids}); use the key id")
    return matches[0]


def _ensure_account(conn: Connection, name: str, now: datetime) -> AccountRow:
    """The account called `name`, created (postpaid) if missing."""
    row = accounts_repo.get_by_name(conn, name)
    if row is None:
        row = AccountRow(id=new_id("acc_"), name=name, billing_mode="postpaid", created_at=now)
        if not accounts_repo.insert_account(conn, row):
            raise StoreError(f"could not create account {name!r}; try again")
    return row


def _issue(
    conn: Connection,
    account: AccountRow,
    name: str,
    role: Role,
    now: datetime,
    expires_at: datetime | None,
    tier: str = "",
) -> tuple[KeyInfo, str]:
    plaintext = generate_key()
    new = NewKey(
        id=new_id("key_"),
        account_id=account.id,
        name=name,
        prefix=display_prefix(plaintext),
        key_hash=hash_key(plaintext),
        role=role,
        created_at=now,
        expires_at=expires_at,
        tier=tier,
    )
    if not keys_repo.insert_key(conn, new):  # 96-bit id or 256-bit key collided: never
        raise StoreError("could not store the new key; try again")
    info = KeyInfo(
        id=new.id,
        account_id=account.id,
        account_name=account.name,
        name=name,
        prefix=new.prefix,
        role=role,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        tier=tier,
    )
    return info, plaintext


def _role(role: str) -> Role:
    return "admin" if role == "admin" else "user"


def _account(row: AccountRow) -> AccountInfo:
    return AccountInfo(row.id, row.name, row.billing_mode, row.created_at)


def _key(row: KeyRow) -> KeyInfo:
    # the service's view has the repo row's fields (never a hash) and status helpers
    return KeyInfo(**{f.name: getattr(row, f.name) for f in fields(KeyInfo)})


__all__ = [
    "BILLING_MODES",
    "AccountInfo",
    "BillingMode",
    "KeyInfo",
    "KeyStatus",
    "create_account",
    "create_key",
    "get_account",
    "list_accounts",
    "list_keys",
    "new_id",
    "revoke_key",
]
