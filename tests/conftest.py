"""Shared fixtures: private throwaway PostgreSQL and Redis servers, and a migrated `store`.

The servers are started from the installed binaries, once per session, on free
loopback ports, and stopped at the end. `TOKENWARD_TEST_PG_URL` /
`TOKENWARD_TEST_REDIS_URL` point the suite at existing servers instead. With the
binaries missing a test that needs them is skipped loudly, or fails when CI=true.
"""

from __future__ import annotations

import glob
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


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_pg_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres OS user."""
    return ["runuser", "-u", PG_SUPERUSER, "--"] if os.geteuid() == 0 else []


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the session (superuser, database "postgres")."""
    external = os.environ.get("TOKENWARD_TEST_PG_URL")
    if external:
        yield external
        return
    bindir = _pg_bindir()
    if bindir is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    work = Path(tempfile.mkdtemp(prefix="tokenward-pg-"))
    if os.geteuid() == 0:
        shutil.chown(work, PG_SUPERUSER, PG_SUPERUSER)
    data, port = work / "data", free_port()
    sudo = _as_pg_user()
    _run(
        [
            *sudo,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    options = (
        f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    pg_ctl = [*sudo, str(bindir / "pg_ctl"), "-D", str(data)]
    _run([*pg_ctl, "-l", str(work / "postgres.log"), "-o", options, "-w", "-t", "60", "start"])
    try:
        yield f"postgresql://{PG_SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"tw_test_{uuid.uuid4().hex[:16]}"
    admin = make_url(postgres_url).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, unmigrated database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated `Store` on a fresh database, for each of SQLite and PostgreSQL."""
    opened = Store.connect(DatabaseSettings(url=database_url))
    migrate(opened)
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
