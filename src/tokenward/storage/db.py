"""`Store`: one SQLAlchemy engine for SQLite (WAL) or PostgreSQL, and its transactions.

Everything that touches the database goes through `Store.transaction()`, which turns
driver failures into `StoreError` (one readable line, HTTP 503) so no caller has to
know SQLAlchemy's exception tree. Repos never rely on a unique violation surfacing as
an exception (that would abort a PostgreSQL transaction): they insert with
ON CONFLICT DO NOTHING and look at what happened.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from tokenward.config.schema import DatabaseSettings
from tokenward.errors import ConfigError, StoreError

#: milliseconds a SQLite connection waits for the write lock before giving up
SQLITE_BUSY_TIMEOUT_MS = 10_000
_IMMEDIATE = "tokenward_begin_immediate"


class Store:
    """The ledger database: a sync engine plus transaction helpers.

    >>> store = Store.connect(DatabaseSettings(url="sqlite:///./.tokenward/tokenward.db"))
    >>> with store.transaction() as conn:
    ...     ...
    >>> store.close()
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._closed = False

    @classmethod
    def connect(cls, db: DatabaseSettings) -> Store:
        """Build the engine for `db.url`; no connection is opened until first use.

        Raises `ConfigError` for a URL SQLAlchemy cannot use.
        """
        try:
            url = make_url(db.url)
            if url.get_backend_name() == "sqlite":
                return cls(_sqlite_engine(url.database, db.url, db.sqlite_synchronous))
            if url.drivername in ("postgresql", "postgres"):
                # psycopg 3 is the PostgreSQL driver we ship; SQLAlchemy would pick psycopg2
                url = url.set(drivername="postgresql+psycopg")
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(f"database url {_safe_url(db.url)}: {describe(exc)}") from exc
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """The dialect name: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def closed(self) -> bool:
        return self._closed

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction, committed on success and rolled back on error.

        `write=True` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE), for
        read-then-write transactions that must not interleave with another process.
        """
        if self._closed:
            raise StoreError("the store is closed")
        try:
            with self._engine.connect() as conn:
                if write and self.is_sqlite:
                    conn = conn.execution_options(**{_IMMEDIATE: True})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {describe(exc)}") from exc

    def ping(self) -> None:
        """Round-trip to the database; raises `StoreError` when it cannot answer."""
        with self.transaction() as conn:
            conn.execute(select(literal(1))).scalar_one()

    def close(self) -> None:
        """Close every pooled connection; later transactions raise `StoreError`."""
        self._closed = True
        self._engine.dispose()


def write_lock_options(store: Store) -> dict[str, Any]:
    """Execution options that make a connection's transactions take SQLite's write
    lock at BEGIN (BEGIN IMMEDIATE); empty elsewhere."""
    return {_IMMEDIATE: True} if store.is_sqlite else {}


def describe(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's SQL echo and help link."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(orig or exc).__name__}: {first}" if first else type(orig or exc).__name__


def _safe_url(raw: str) -> str:
    """The URL for an error message, without its password."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return raw.split("://", 1)[0] + "://..."


def _sqlite_engine(database: str | None, url: str, synchronous: str) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin): pysqlite's implicit BEGIN
        # comes only before DML, which would leave reads and DDL outside the transaction.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """PRAGMA journal_mode=WAL, retried: on a new file it fails at once ("database is
    locked", no busy wait) while another process holds a lock. The mode is persistent,
    so this only ever waits the first time a file is opened by several processes."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "Store", "describe", "write_lock_options"]
