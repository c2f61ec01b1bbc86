"""`EventSink`: the group-commit writer's own connection to the ledger, on the hot path.

SQLAlchemy's per-statement machinery (compile cache look-up, events, result wrapping)
costs about ten times what SQLite itself needs to insert and commit one small batch,
and it runs under the GIL beside the event loop. So the writer keeps one connection
and runs SQL text generated once from the `usage_events` Table on its raw DB-API
cursor (still
the single source of the schema); each value passes through its column type's bind
processor, so rows are stored exactly as SQLAlchemy stores and reads them.

Idempotency stays the database's: a batch first looks up which request ids already
exist, inserts the rest with ON CONFLICT (request_id) DO NOTHING, and only if another
writer raced it (PostgreSQL with several replicas) reads the rows back to classify.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from tokenward.errors import StoreError
from tokenward.ledger.model import UsageEvent
from tokenward.storage.db import Store, describe, write_lock_options
from tokenward.storage.repos import usage as usage_repo
from tokenward.storage.tables import usage_events

if TYPE_CHECKING:
    from tokenward.ledger.credits import UsageCharge

log = logging.getLogger(__name__)

#: posts the ledger charges of a batch inside its transaction (`ledger.credits`)
PostCharges = Callable[[Connection, Sequence["UsageCharge"]], None]


class EventSink:
    """Inserts batches of usage events in one transaction each, on one connection.

    The same transaction posts the ledger charges of the events it inserted (a
    replayed event posts nothing), so an event and its money commit or vanish
    together. Not thread-safe: the writer uses it from its single thread only.
    """

    def __init__(self, store: Store, post_charges: PostCharges | None = None) -> None:
        self._store = store
        self._post_charges = post_charges
        dialect = store.engine.dialect
        columns = list(usage_events.columns)
        self._names = [column.name for column in columns]
        processors = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
        ]
        #: (position, processor) of the columns whose values need binding (dates, bools)
        self._bound: list[tuple[int, Callable[[Any], Any]]] = [
            (i, process) for i, process in enumerate(processors) if process is not None
        ]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._row_marks = f"({', '.join([mark] * len(columns))})"
        self._sql_by_size: dict[int, str] = {}
        self._conn: Connection | None = None

    def insert_batch(
        self,
        events: Sequence[UsageEvent],
        charges: Sequence[UsageCharge | None] | None = None,
    ) -> list[UsageEvent | None]:
        """Per event, in order: None if this call inserted it, else the stored event.

        One multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING request_id on the
        raw DB-API cursor, then the charges of the new rows, then one COMMIT: the
        database says exactly which rows were new. Only replays (and copies within
        the batch) cost a read-back of the rows they collided with.
        """
        if not events:
            return []
        conn = self._connection()
        try:
            with conn.begin():  # BEGIN IMMEDIATE on SQLite: the write lock first
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                params = [value for event in events for value in self._row(event)]
                cursor.execute(self._insert_sql(len(events)), params)
                inserted = {row[0] for row in cursor.fetchall()}
                cursor.close()
                if charges and self._post_charges is not None:
                    due = _due(charges, inserted)
                    if due:
                        self._post_charges(conn, due)
        except Exception as exc:
            self._discard()
            raise StoreError(f"database error: {describe(exc)}") from exc
        if len(inserted) == len(events):
            return [None] * len(events)  # the common case: every event is new
        return self._classify(events, inserted)

    def close(self) -> None:
        """Return the connection to the pool."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _insert_sql(self, rows: int) -> str:
        """The multi-row insert for `rows` events, built once per batch size."""
        sql = self._sql_by_size.get(rows)
        if sql is None:
            sql = self._sql_by_size[rows] = (
                f"INSERT INTO {usage_events.name} ({', '.join(self._names)}) "
                f"VALUES {', '.join([self._row_marks] * rows)} "
                "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
            )
        return sql

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._store.closed:
                raise StoreError("the store is closed")
            try:
                conn = self._store.engine.connect()
            except SQLAlchemyError as exc:
                raise StoreError(f"database error: {describe(exc)}") from exc
            self._conn = conn.execution_options(**write_lock_options(self._store))
        return self._conn

    def _discard(self) -> None:
        """After a failure the connection may be broken: drop it, reconnect next time."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.invalidate()
            conn.close()
        except Exception:  # already failing; the pool replaces it
            log.debug("discarding a failed ledger connection", exc_info=True)

    def _row(self, event: UsageEvent) -> list[Any]:
        values = usage_repo.event_to_row(event)
        row = [values[name] for name in self._names]
        for i, process in self._bound:
            row[i] = process(row[i])
        return row

    def _classify(
        self, events: Sequence[UsageEvent], inserted: set[str]
    ) -> list[UsageEvent | None]:
        """Slow path: events that hit an existing row get that row, for comparison."""
        blocked = [e.request_id for e in events if e.request_id not in inserted]
        stored = {e.request_id: e for e in usage_repo.events_by_request_ids(self._store, blocked)}
        results: list[UsageEvent | None] = []
        for event in events:
            if event.request_id in inserted:
                inserted.discard(event.request_id)  # later copies in the batch are replays
                results.append(None)
            else:
                results.append(stored.get(event.request_id) or _first(events, event))
        return results


def _due(charges: Sequence[UsageCharge | None], inserted: set[str]) -> list[UsageCharge]:
    """The charges of events this batch inserted, once per request id."""
    due: list[UsageCharge] = []
    for charge in charges:
        if charge is not None and charge.request_id in inserted:
            inserted = inserted - {charge.request_id}
            due.append(charge)
    return due


def _first(events: Sequence[UsageEvent], event: UsageEvent) -> UsageEvent:
    """The copy of `event`'s request id that this batch inserted (read back otherwise)."""
    return next(e for e in events if e.request_id == event.request_id)


def insert_batch(
    store: Store,
    events: Sequence[UsageEvent],
    charges: Sequence[UsageCharge | None] | None = None,
) -> list[UsageEvent | None]:
    """One-off batch insert (tests, imports); the writer keeps a long-lived `EventSink`."""
    from tokenward.ledger.credits import post_usage_batch  # the ledger sits above storage

    sink = EventSink(store, post_usage_batch)
    try:
        return sink.insert_batch(events, charges)
    finally:
        sink.close()


__all__ = ["EventSink", "insert_batch"]
