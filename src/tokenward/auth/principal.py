"""`Principal`: who is calling, as established by the API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")

#: identity of the admin key configured in settings (it has no row in the database)
CONFIG_ADMIN_ACCOUNT_ID = "acc_config_admin"
CONFIG_ADMIN_KEY_ID = "key_config_admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The account and key behind a request; a tenant key sees only its own account."""

    account_id: str
    account_name: str
    key_id: str
    key_name: str
    role: Role
    #: the key's capacity-pool priority tier ('' = none set: the plan's, or the default)
    tier: str = ""
    #: the account's billing mode, 'postpaid' | 'prepaid' ('' for the config admin key)
    billing_mode: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def config_admin_principal() -> Principal:
    """The principal of `settings.admin_key`."""
    return Principal(
        account_id=CONFIG_ADMIN_ACCOUNT_ID,
        account_name="admin",
        key_id=CONFIG_ADMIN_KEY_ID,
        key_name="admin key from settings",
        role="admin",
    )


__all__ = [
    "CONFIG_ADMIN_ACCOUNT_ID",
    "CONFIG_ADMIN_KEY_ID",
    "ROLES",
    "Principal",
    "Role",
    "config_admin_principal",
]
