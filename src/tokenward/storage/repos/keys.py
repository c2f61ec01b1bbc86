"""SQL for API keys. Only the sha256 of a key is ever stored or queried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, exists, select, text, update

from tokenward.storage.repos._dialect import insert_or_ignore
from tokenward.storage.tables import accounts, api_keys

#: PostgreSQL advisory lock id serialising first-start bootstrap across replicas
_PG_BOOTSTRAP_LOCK = 0x7477_0002


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One API key with its account's name and billing mode; never the hash."""

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
    #: the account's 'postpaid' | 'prepaid' (read with the key: the charge stage needs it)
    billing_mode: str = "postpaid"


@dataclass(frozen=True, slots=True)
class NewKey:
    """What `insert_key` writes."""

    id: str
    account_id: str
    name: str
    prefix: str
    key_hash: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    tier: str = ""


def insert_key(conn: Connection, key: NewKey) -> bool:
    """Insert `key`; False when its id or hash already exists (nothing written)."""
    stmt = insert_or_ignore(conn, api_keys).values(
        id=key.id,
        account_id=key.account_id,
        name=key.name,
        prefix=key.prefix,
        key_hash=key.key_hash,
        role=key.role,
        created_at=key.created_at,
        expires_at=key.expires_at,
        tier=key.tier,
    )
    return conn.execute(stmt.returning(api_keys.c.id)).first() is not None


def find_by_hash(conn: Connection, key_hash: str) -> KeyRow | None:
    """The key whose sha256 hex is `key_hash` (revoked and expired keys included)."""
    found = conn.execute(_select_keys().where(api_keys.c.key_hash == key_hash)).first()
    return None if found is None else _row(found._mapping)


def find_by_id(conn: Connection, key_id: str) -> KeyRow | None:
    found = conn.execute(_select_keys().where(api_keys.c.id == key_id)).first()
    return None if found is None else _row(found._mapping)


def find_by_prefix(conn: Connection, prefix: str) -> list[KeyRow]:
    """Keys whose display prefix is `prefix` (almost always zero or one)."""
    rows = conn.execute(_select_keys().where(api_keys.c.prefix == prefix)).all()
    return [_row(r._mapping) for r in rows]


def list_keys(conn: Connection, account_id: str | None = None) -> list[KeyRow]:
    """Keys of one account, or of all, oldest first."""
    query = _select_keys().order_by(accounts.c.name, api_keys.c.created_at, api_keys.c.id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return [_row(r._mapping) for r in conn.execute(query).all()]


def revoke(conn: Connection, key_id: str, at: datetime) -> bool:
    """Mark the key revoked at `at`; False when it was already revoked or is unknown."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def any_admin_key(conn: Connection) -> bool:
    """Whether an admin-role key was ever created (revoked ones count)."""
    return bool(conn.execute(select(exists().where(api_keys.c.role == "admin"))).scalar())


def lock_for_bootstrap(conn: Connection) -> None:
    """Serialise first-start bootstrap between processes for the rest of the transaction.

    SQLite needs nothing more: the caller's transaction began with BEGIN IMMEDIATE.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_BOOTSTRAP_LOCK})


def _select_keys() -> Select[Any]:
    return select(
        api_keys.c.id,
        api_keys.c.account_id,
        accounts.c.name.label("account_name"),
        api_keys.c.name,
        api_keys.c.prefix,
        api_keys.c.role,
        api_keys.c.created_at,
        api_keys.c.expires_at,
        api_keys.c.revoked_at,
        api_keys.c.tier,
        accounts.c.billing_mode,
    ).join_from(api_keys, accounts, api_keys.c.account_id == accounts.c.id)


def _row(m: Any) -> KeyRow:
    return KeyRow(
        id=m["id"],
        account_id=m["account_id"],
        account_name=m["account_name"],
        name=m["name"],
        prefix=m["prefix"],
        role=m["role"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        tier=m["tier"] or "",
        billing_mode=m["billing_mode"],
    )


__all__ = [
    "KeyRow",
    "NewKey",
    "any_admin_key",
    "find_by_hash",
    "find_by_id",
    "find_by_prefix",
    "insert_key",
    "list_keys",
    "lock_for_bootstrap",
    "revoke",
]
