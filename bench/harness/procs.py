"""Started server processes, /proc readings, readiness polling, and lines of a pipe."""

from __future__ import annotations

import http.client
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, ClassVar

from harness.config import BenchError


class Proc:
    """A started server process with its log file; stopped by `stop()` or at exit."""

    live: ClassVar[list[Proc]] = []

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        Proc.live.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        with suppress(ValueError):
            Proc.live.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for proc in reversed(list(cls.live)):
            with suppress(Exception):
                proc.stop(timeout=10)


def pinned(core: int | str | None, args: Sequence[str]) -> list[str]:
    """`taskset -c <core(s)> args...` (taskset execs, so the pid stays the server's)."""
    return list(args) if core is None else ["taskset", "-c", str(core), *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_ticks(pid: int) -> int:
    """utime + stime of the whole process (all threads), in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def http_status(
    port: int,
    method: str,
    path: str,
    body: str | None = None,
    key: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Status of one request to 127.0.0.1:port (0 when the connection fails)."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body.encode() if body else None, headers=sent)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def wait_for(proc: Proc, ready: Callable[[], bool], timeout: float) -> float:
    """Poll `ready` every 10 ms until true; seconds waited. Raises with the process log."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited early:\n{proc.log_tail()}")
        if ready():
            return time.perf_counter() - started
        time.sleep(0.01)
    raise BenchError(f"{proc.name} not ready after {timeout:.0f}s:\n{proc.log_tail()}")


class LineReader:
    """Lines of a child's stdout pipe with a deadline (unbuffered: select never lies)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._buffer = b""
        self._eof = False

    def line(self, deadline: float) -> str | None:
        """The next line, or None at EOF or once `deadline` (perf_counter) has passed."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer and not self._eof:
                left = deadline - time.perf_counter()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(self._fd, 65536)
                self._eof = not chunk
                self._buffer += chunk
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")
