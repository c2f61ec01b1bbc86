"""Repositories: the only modules that contain SQL.

`accounts` and `keys` take a `Connection`, so a service can compose several calls in
one `Store.transaction()`; `usage` takes the `Store`, one transaction per call.
"""

from tokenward.storage.repos import accounts, keys, limits, usage

__all__ = ["accounts", "keys", "limits", "usage"]
