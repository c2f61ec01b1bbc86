"""Shared fixtures: private throwaway PostgreSQL and Redis servers, and a migrated `store`.

The servers are started from the installed binaries, once per session, on free
loopback ports, and stopped at the end. `TOKENWARD_TEST_PG_URL` /
`TOKENWARD_TEST_REDIS_URL` point the suite at existing servers instead. With the
binaries missing a test that needs them is skipped loudly, or fails when CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.helpers.postgres import pg_bindir, private_postgres
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import Store, migrate

PG_SUPERUSER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _missing(what: str) -> NoReturn:
    message = f"{what} is not installed: tests needing it cannot run"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: this is an error)", pytrace=False)
    pytest.skip("!!! " + message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the session (superuser, database "postgres")."""
    external = os.environ.get("TOKENWARD_TEST_PG_URL")
    if external:
        yield external
        return
    if pg_bindir() is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    with private_postgres("-c max_connections=300") as url:
        yield url


def _new_postgres_database(postgres_url: str, template: str | None = None) -> Iterator[str]:
    """CREATE DATABASE (from `template` if given), yield its URL, DROP it afterwards."""
    name = f"tw_test_{uuid.uuid4().hex[:16]}"
    admin = make_url(postgres_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _new_postgres_database(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, unmigrated database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


def _migrated(url: str) -> None:
    opened = Store.connect(DatabaseSettings(url=url))
    try:
        migrate(opened)
    finally:
        opened.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (migrating each time costs more)."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database that per-test databases are created from."""
    for url in _new_postgres_database(postgres_url):
        _migrated(url)
        yield make_url(url).database or ""


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database already at the latest migration: a copy of a template."""
    if request.param == "sqlite":
        target = tmp_path / "ledger.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template: str = request.getfixturevalue("postgres_template")
    yield from _new_postgres_database(request.getfixturevalue("postgres_url"), template)


@pytest.fixture
def store(migrated_database_url: str) -> Iterator[Store]:
    """A migrated `Store` on a fresh database, for each of SQLite and PostgreSQL."""
    opened = Store.connect(DatabaseSettings(url=migrated_database_url))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a private Redis for the session (no persistence)."""
    external = os.environ.get("TOKENWARD_TEST_REDIS_URL")
    if external:
        yield external
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server")
    work = Path(tempfile.mkdtemp(prefix="tokenward-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_redis(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


def _wait_for_redis(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on port {port} within {timeout}s")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (`@pytest.mark.anyio`) run on asyncio, like the gateway."""
    return "asyncio"
