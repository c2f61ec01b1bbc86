"""A private redis-server a test may kill, freeze and restart on the same port.

    with private_redis_server() as redis:
        ...            # redis.url; redis.kill(); redis.start() again on the same port

Tests that break Redis on purpose use one of these, never the session's shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.processes import free_port

__all__ = ["RedisServer", "private_redis_server"]


class RedisServer:
    """A private redis-server that a test may kill, freeze and restart on the same port."""

    def __init__(self, binary: str, work: Path) -> None:
        self.binary, self.work = binary, work
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.work)]
        self.process = subprocess.Popen(
            [self.binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            )
            if probe.stdout.strip() == b"PONG":
                return
            time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, check=True
        )
        return out.stdout.decode().strip()


@contextmanager
def private_redis_server() -> Iterator[RedisServer]:
    """A started private redis-server, stopped and removed afterwards (skips, or fails
    under CI=true, when redis-server is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None or shutil.which("redis-cli") is None:
        message = "redis-server / redis-cli not installed: tests needing them cannot run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: this is an error)", pytrace=False)
        pytest.skip("!!! " + message)
    work = Path(tempfile.mkdtemp(prefix="tokenward-redis-own-"))
    server = RedisServer(binary, work)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.signal(signal.SIGCONT)
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
