"""The store on both databases: migrations, pragmas, UTC datetimes, failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.conftest import free_port
from tokenward.config.schema import DatabaseSettings
from tokenward.errors import ConfigError, StoreError
from tokenward.storage import Store, current_revision, head_revision, migrate
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos.accounts import AccountRow
from tokenward.storage.tables import metadata

#: every table of the schema module, and Alembic's own
TABLES = {*metadata.tables, "alembic_version"}


def test_migrate_creates_the_schema_and_is_idempotent(store: Store) -> None:
    assert {"accounts", "api_keys", "usage_events", "limit_rules"} <= TABLES
    assert set(inspect(store.engine).get_table_names()) == TABLES
    head = head_revision()
    assert head is not None and current_revision(store) == head
    migrate(store)
    migrate(store)
    assert current_revision(store) == head


def test_migrated_schema_matches_the_metadata(store: Store) -> None:
    with store.transaction() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_usage_events_indexes(store: Store) -> None:
    indexes = {
        i["name"]: i["column_names"] for i in inspect(store.engine).get_indexes("usage_events")
    }
    assert indexes["ix_usage_events_account_id_started_at"] == ["account_id", "started_at"]
    assert indexes["ix_usage_events_started_at"] == ["started_at"]


def test_sqlite_runs_in_wal_mode_with_the_configured_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "ledger.db"
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{db}", sqlite_synchronous="FULL"))
    try:
        with store.transaction() as conn:
            pragma = {
                name: conn.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 2,
            "busy_timeout": 10000,
            "foreign_keys": 1,
        }
        assert db.is_file()
    finally:
        store.close()


def test_postgresql_urls_use_psycopg_3() -> None:
    store = Store.connect(DatabaseSettings(url="postgresql://u:p@127.0.0.1:1/db"))
    assert store.engine.dialect.driver == "psycopg"
    assert store.dialect == "postgresql"
    store.close()


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    plus8 = timezone(timedelta(hours=8))
    created = datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=plus8)
    with store.transaction() as conn:
        accounts_repo.insert_account(conn, AccountRow("acc_1", "tz", "postpaid", created))
    with store.transaction() as conn:
        row = accounts_repo.get_by_name(conn, "tz")
    assert row is not None
    assert row.created_at == created
    assert row.created_at.tzinfo is UTC
    assert row.created_at.hour == 0


def test_a_closed_store_raises_store_error(store: Store) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ping()


def test_an_unreachable_database_is_one_line_store_error() -> None:
    store = Store.connect(
        DatabaseSettings(url=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing")
    )
    try:
        with pytest.raises(StoreError) as info:
            store.ping()
        assert "\n" not in str(info.value)
        assert str(info.value).startswith("database error: OperationalError")
    finally:
        store.close()


_MIGRATE_AT = textwrap.dedent(
    """
    import sys, time
    from tokenward.config.schema import DatabaseSettings
    from tokenward.storage import Store, migrate
    store = Store.connect(DatabaseSettings(url=sys.argv[1]))
    while time.time() < float(sys.argv[2]):
        time.sleep(0.001)
    migrate(store)
    store.close()
    """
)


def test_two_processes_can_migrate_at_once(database_url: str) -> None:
    start_at = str(time.time() + 2.0)  # both processes are imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AT, database_url, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    store = Store.connect(DatabaseSettings(url=database_url))
    try:
        assert current_revision(store) == head_revision()
        assert set(inspect(store.engine).get_table_names()) == TABLES
    finally:
        store.close()


def test_an_unusable_url_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="psycopg2") as info:
        Store.connect(DatabaseSettings(url="postgresql+psycopg2://u:secret@h/db"))
    assert "secret" not in str(info.value)
