"""Bring a database to the newest schema with Alembic, safely from many processes.

`migrate()` is called by `serve` and by every CLI command, so it must be cheap when
there is nothing to do and safe when two processes start at once. Both databases get
that from one transaction around the whole upgrade: on SQLite it starts with
BEGIN IMMEDIATE (the write lock, so the second process waits and then finds the
schema current), on PostgreSQL it takes a transaction-scoped advisory lock first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from tokenward.config.schema import DatabaseSettings
from tokenward.errors import StoreError
from tokenward.storage.db import Store

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: arbitrary constant shared by every Tokenward process: "tw" in ASCII, then 1
_PG_MIGRATE_LOCK = 0x7477_0001


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def migrate(store: Store) -> None:
    """Upgrade `store` to head; a no-op when it is current. Raises `StoreError`."""
    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    # the cheap check first, so a CLI command does not queue behind a busy writer
    if current_revision(store) == head:
        return
    with store.transaction(write=True) as conn:
        if not store.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATE_LOCK})
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise StoreError(f"migration failed: {exc}") from exc


def current_revision(store: Store) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with store.transaction() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def migrated_store(db: DatabaseSettings) -> Iterator[Store]:
    """Open the store, upgrade it, and close it afterwards (what each CLI command needs)."""
    store = Store.connect(db)
    try:
        migrate(store)
        yield store
    finally:
        store.close()


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "migrate",
    "migrated_store",
]
