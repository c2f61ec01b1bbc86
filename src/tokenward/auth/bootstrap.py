"""First start: make sure someone can administer the gateway, and show how to call it.

With no admin key configured (`settings.admin_key`) and none ever created in the
database, `bootstrap()` creates account "admin" with an admin-role key and account
"demo" with a user key, and returns both plaintexts for `serve` to print once.
Any later start returns Nones. The check and the inserts are one transaction under
a cross-process lock, so replicas starting together print keys at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenward.auth.service import _ensure_account, _issue
from tokenward.clock import Clock
from tokenward.config.schema import Settings
from tokenward.storage.db import Store
from tokenward.storage.repos import keys as keys_repo

ADMIN_ACCOUNT = "admin"
DEMO_ACCOUNT = "demo"


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """Plaintext keys created by this start (None when nothing was created)."""

    admin_key: str | None = None
    demo_key: str | None = None


def bootstrap(store: Store, settings: Settings, clock: Clock) -> BootstrapResult:
    """Create the first admin and demo keys if this is the first start (see module doc)."""
    if settings.admin_key:
        return BootstrapResult()
    now = clock.now()
    with store.transaction(write=True) as conn:
        keys_repo.lock_for_bootstrap(conn)
        if keys_repo.any_admin_key(conn):
            return BootstrapResult()
        admin = _ensure_account(conn, ADMIN_ACCOUNT, now)
        _, admin_key = _issue(conn, admin, "bootstrap admin", "admin", now, None)
        demo = _ensure_account(conn, DEMO_ACCOUNT, now)
        _, demo_key = _issue(conn, demo, "demo", "user", now, None)
    return BootstrapResult(admin_key=admin_key, demo_key=demo_key)


__all__ = ["ADMIN_ACCOUNT", "DEMO_ACCOUNT", "BootstrapResult", "bootstrap"]
