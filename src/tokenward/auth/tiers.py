"""A key's capacity-pool priority tier: validated against the configured tiers, stored
on the key's row.

The tier is a key setting (`tokenward keys create --tier gold`); a plan may give one
too (the charge stage sets `RequestContext.tier`), and the key's wins. Tiers are
named in `[limits] tiers`, highest first; a name not configured there is refused
when the key is created, so a typo never silently demotes a customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenward.errors import InvalidRequest


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


__all__ = ["check_tier"]
