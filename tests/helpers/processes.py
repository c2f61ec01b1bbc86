"""Start real server processes for tests: free port, wait for health, clean teardown.

    port = free_port()
    server = start_process(
        [TOKENWARD, "simulate", "--port", str(port)],
        env=dict(os.environ),
        health_url=f"http://127.0.0.1:{port}/_sim/health",
    )
    try:
        ...
    finally:
        server.stop()

The process output goes to a temporary log file; if the process dies or never gets
healthy, the error shows the tail of that log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["RunningProcess", "free_port", "start_process", "wait_healthy"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningProcess:
    """A started subprocess with its log; `stop()` is graceful, `kill()` is SIGKILL."""

    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path, args: Sequence[str]):
        self.popen = popen
        self.log_path = log_path
        self.args = list(args)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 4000) -> str:
        """The last `tail` characters the process wrote (stdout and stderr together)."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL; safe to call twice.

        The log file is removed after a clean stop (kept after `kill()` for post-mortems).
        """
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return self.popen.returncode
        self.log_path.unlink(missing_ok=True)
        return self.popen.returncode

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the process to end by itself (or by an outside signal); its return code."""
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL at once (crash tests) and reap the process."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(10)


#: health checks go straight to loopback, whatever HTTP_PROXY says
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_healthy(process: RunningProcess, health_url: str, timeout: float) -> None:
    """Poll `health_url` until it answers 200; raise with the process log otherwise."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(
                f"{process.args[:2]} exited with {process.returncode}:\n{process.log()}"
            )
        try:
            with _DIRECT.open(health_url, timeout=1.0) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.05)
    process.kill()
    raise TimeoutError(
        f"{health_url} not healthy after {timeout}s ({last_error}):\n{process.log()}"
    )


def start_process(
    args: list[str],
    *,
    env: Mapping[str, str],
    health_url: str,
    timeout: float = 20.0,
    cwd: str | Path | None = None,
) -> RunningProcess:
    """Start `args` with exactly `env`, and return once `health_url` answers 200."""
    fd, log_name = tempfile.mkstemp(prefix="tokenward-proc-", suffix=".log")
    with os.fdopen(fd, "wb") as log_file:
        popen = subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    process = RunningProcess(popen, Path(log_name), args)
    wait_healthy(process, health_url, timeout)
    return process
