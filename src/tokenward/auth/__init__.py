"""Authentication: API keys (hashed at rest), principals, the cached authenticator,
and the account/key services the CLI and the admin API share."""

from tokenward.auth.authenticate import KeyAuthenticator
from tokenward.auth.bootstrap import BootstrapResult, bootstrap
from tokenward.auth.keys import display_prefix, generate_key, hash_key
from tokenward.auth.principal import Principal, Role
from tokenward.auth.service import (
    AccountInfo,
    KeyInfo,
    create_account,
    create_key,
    get_account,
    list_accounts,
    list_keys,
    revoke_key,
)

__all__ = [
    "AccountInfo",
    "BootstrapResult",
    "KeyAuthenticator",
    "KeyInfo",
    "Principal",
    "Role",
    "bootstrap",
    "create_account",
    "create_key",
    "display_prefix",
    "generate_key",
    "get_account",
    "hash_key",
    "list_accounts",
    "list_keys",
    "revoke_key",
]
