"""Alembic environment: runs on the connection `storage.migrate` hands over.

`migrate()` opens the transaction (and takes the cross-process lock) itself and puts
the connection in `config.attributes["connection"]`; the plain `alembic` command line
(with `sqlalchemy.url` set) is supported for operators who want it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from tokenward.storage.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or run through tokenward.storage.migrate()")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
_main()
