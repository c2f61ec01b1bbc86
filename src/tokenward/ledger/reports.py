"""Usage reports: token and cost sums per model, day, hour, key or account, in SQL.

Costs are sums of the stored event costs (micros), shown as decimal strings with six
places, each with its currency; amounts in different currencies are never added.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tokenward.errors import InvalidRequest, NotFound
from tokenward.money import format_amount
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos import usage as usage_repo

#: what a report may be grouped by, in the order SPEC section 3 names them
GROUP_KEYS: tuple[str, ...] = usage_repo.GROUP_KEYS
#: the numbers every report row carries, after its group keys
METRICS: tuple[str, ...] = ("requests", *usage_repo.TOKEN_COLUMNS, "estimated_requests")
#: the money every row carries last: a decimal string and its ISO 4217 code ('' if unpriced)
MONEY_COLUMNS: tuple[str, ...] = ("cost", "currency")


def usage_report(
    store: Store,
    account: str | None,
    since: datetime | None,
    until: datetime | None,
    by: Sequence[str],
) -> list[dict[str, Any]]:
    """Rows of token and cost sums, one per group, ordered by the group keys.

    `account` is an account name; `since` is inclusive and `until` exclusive, both
    on the request's start time. With no `by`, one row holds the totals (none when
    nothing matched). Day keys read "YYYY-MM-DD", hour keys "YYYY-MM-DDTHH:00Z" (UTC).
    A group whose events were priced in several currencies is one row per currency.

    >>> usage_report(store, "demo", None, None, ["model", "day"])
    [{"model": "sim-small", "day": "2026-01-01", "requests": 3, "input_tokens": 42, ...,
      "cost": "0.001250", "currency": "USD"}]
    """
    groups = normalize_group_keys(by)
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("--since must be before --until")
    account_id = None
    if account is not None:
        with store.transaction() as conn:
            found = accounts_repo.get_by_name(conn, account)
        if found is None:
            raise NotFound(f"unknown account {account!r}")
        account_id = found.id
    rows = usage_repo.aggregate(store, by=groups, account_id=account_id, since=since, until=until)
    return [{**row, "cost": format_amount(row["cost"])} for row in rows]


def normalize_group_keys(by: Sequence[str]) -> list[str]:
    """Split comma-separated keys, drop repeats, reject unknown ones (InvalidRequest)."""
    keys: list[str] = []
    for item in by:
        for key in (part.strip().lower() for part in item.split(",")):
            if not key:
                continue
            if key not in GROUP_KEYS:
                raise InvalidRequest(
                    f"cannot group by {key!r}; choose from {', '.join(GROUP_KEYS)}", param="by"
                )
            if key not in keys:
                keys.append(key)
    return keys


__all__ = ["GROUP_KEYS", "METRICS", "MONEY_COLUMNS", "normalize_group_keys", "usage_report"]
