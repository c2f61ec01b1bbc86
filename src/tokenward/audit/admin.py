"""Admin actions (accounts, keys, limits, policies) into the hash-chained audit log.

The one helper every admin service calls after its change has committed, so the CLI
and the admin API record the same thing. The record names who (the CLI, or the admin
key's id), what and on which target; never a key's plaintext (the log refuses it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tokenward.clock import Clock
from tokenward.storage.db import Store


def record_admin_action(
    store: Store, clock: Clock, actor: str, action: str, target: str, details: dict[str, Any]
) -> None:
    """Append one admin action; runs in its own transaction after the change."""
    from tokenward.audit.chain import AuditLog  # loads the guard's scanner: only when used

    AuditLog(store, clock).append(actor, action, target, details)


def guard_decisions(
    store: Store, clock: Clock, since: datetime | None = None, until: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Guard blocks and redactions per account name, read back from the audit log."""
    from tokenward.audit.chain import AuditLog

    log = AuditLog(store, clock)
    counts: dict[str, dict[str, int]] = {}
    after = 0
    while True:
        page = log.records(limit=1000, after=after)
        if not page:
            return counts
        for record in page:
            after = record.seq
            if not record.action.startswith("guard."):
                continue
            if (since and record.at < since) or (until and record.at >= until):
                continue
            account = str(record.details.get("account", "-"))
            tally = counts.setdefault(account, {"guard_blocked": 0, "guard_redacted": 0})
            key = "guard_blocked" if record.action == "guard.block" else "guard_redacted"
            tally[key] += 1


__all__ = ["guard_decisions", "record_admin_action"]
