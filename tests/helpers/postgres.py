"""A private, throwaway PostgreSQL server from the installed Debian binaries.

Used by the test suite (one server per session) and by the benchmarks. Durability is
off (fsync, full-page writes, synchronous commit): the data dies with the server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.processes import free_port

PG_SUPERUSER = "postgres"


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's versioned directory."""
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


@contextmanager
def private_postgres(extra_options: str = "") -> Iterator[str]:
    """Start a server on a free loopback port; yield its superuser URL; stop and delete it.

    Raises `RuntimeError` when the binaries are missing (callers decide to skip)."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
    work = Path(tempfile.mkdtemp(prefix="tokenward-pg-"))
    sudo = _as_pg_user()
    if sudo:
        shutil.chown(work, PG_SUPERUSER, PG_SUPERUSER)
    data, port = work / "data", free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", PG_SUPERUSER, "-A", "trust"]
    _run([*sudo, *initdb, "-E", "UTF8", "--no-sync"])
    options = (
        f"-p {port} -k {work} -c listen_addresses=127.0.0.1 {extra_options} "
        "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    pg_ctl = [*sudo, str(bindir / "pg_ctl"), "-D", str(data)]
    _run([*pg_ctl, "-l", str(work / "postgres.log"), "-o", options, "-w", "-t", "60", "start"])
    try:
        yield f"postgresql://{PG_SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["PG_SUPERUSER", "pg_bindir", "private_postgres"]
