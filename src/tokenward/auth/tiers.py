"""A key's capacity-pool priority tier: validated against the configured tiers, stored
on the key's row.

The tier is a key setting (`tokenward keys create --tier gold`); a plan may give one
too (the charge stage sets `RequestContext.tier`), and the key's wins. Tiers are
named in `[limits] tiers`, highest first; a name not configured there is refused
when the key is created, so a typo never silently demotes a customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from tokenward.errors import InvalidRequest
from tokenward.storage.tables import api_keys


def check_tier(tier: str, configured: Sequence[str]) -> str:
    """`tier` if it is configured ('' = none); `InvalidRequest` naming the choices."""
    if tier == "":
        return tier
    if not configured:
        raise InvalidRequest(
            f"unknown tier {tier!r}: no tiers are configured (set [limits] tiers)", param="tier"
        )
    if tier not in configured:
        raise InvalidRequest(
            f"unknown tier {tier!r}: configured tiers are {', '.join(configured)}", param="tier"
        )
    return tier


def set_key_tier(conn: Connection, key_id: str, tier: str) -> None:
    """Store the (already checked) tier of key `key_id`."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(tier=tier))


def key_tier(conn: Connection, key_id: str) -> str:
    """The tier stored on key `key_id` ('' when none, or no such key)."""
    found = conn.execute(select(api_keys.c.tier).where(api_keys.c.id == key_id)).scalar()
    return str(found or "")


def key_tiers(conn: Connection, account_id: str | None = None) -> dict[str, str]:
    """Key id -> tier of the keys that have one, of one account or all."""
    query = select(api_keys.c.id, api_keys.c.tier).where(api_keys.c.tier != "")
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return {row.id: row.tier for row in conn.execute(query)}


__all__ = ["check_tier", "key_tier", "key_tiers", "set_key_tier"]
