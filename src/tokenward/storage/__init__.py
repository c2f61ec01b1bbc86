"""Storage: the ledger database (SQLite WAL or PostgreSQL), its schema and migrations.

SQL lives only in `storage.repos`; everything else goes through the functions there.
"""

from tokenward.storage.db import Store
from tokenward.storage.migrate import current_revision, head_revision, migrate, migrated_store
from tokenward.storage.repos.usage import count_events, events_by_request_ids

__all__ = [
    "Store",
    "count_events",
    "current_revision",
    "events_by_request_ids",
    "head_revision",
    "migrate",
    "migrated_store",
]
