"""One wrk run (bench/wrk.lua prints its summary as JSON) and the CPU the watched pids used."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from harness.config import CLK_TCK, WRK_LUA, BenchError
from harness.machine import MachineCpu
from harness.procs import LineReader, cpu_ticks, pinned


def run_wrk(
    url: str,
    body: str,
    key: str | None,
    connections: int,
    duration_s: int,
    *,
    core: int | None,
    headers: Mapping[str, str] | None = None,
    watch: Mapping[str, int] | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """One wrk run; its summary plus the CPU ticks the `watch`ed pids used meanwhile.

    `key` goes out as `Authorization: Bearer <key>`; `headers` are sent as given.
    """
    env = {**os.environ, "TW_BENCH_BODY": body, "TW_BENCH_KEY": key or ""}
    if headers:
        env["TW_BENCH_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in headers.items())
    if stop_after:
        env["TW_BENCH_STOP_AFTER"] = str(stop_after)
    args = pinned(
        core,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(WRK_LUA),
            url,
        ],
    )
    watch = watch or {}
    before = {name: cpu_ticks(pid) for name, pid in watch.items()}
    machine_before = MachineCpu.now()
    wall = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    summary: dict[str, Any] | None = None
    try:
        assert proc.stdout is not None
        reader = LineReader(proc.stdout)
        deadline = time.perf_counter() + duration_s + 30
        while (line := reader.line(deadline)) is not None:
            if line.startswith("TWBENCH_REACHED"):
                proc.send_signal(signal.SIGINT)  # wrk prints its summary and exits
            elif line.startswith("TWBENCH "):
                summary = json.loads(line[len("TWBENCH ") :])
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wall = time.perf_counter() - wall
    time.sleep(0.2)  # let the last connections close before reading the CPU clocks
    if summary is None:
        raise BenchError(f"wrk gave no summary (exit {proc.returncode}): {' '.join(args)}")
    seconds = summary["duration_us"] / 1e6
    requests = int(summary["requests"])
    result: dict[str, Any] = {
        "connections": connections,
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "errors": summary["errors"],
        "latency_us": summary["latency_us"],
        "cpu": {},
    }
    ours_s = 0.0
    for name, pid in watch.items():
        used_s = (cpu_ticks(pid) - before[name]) / CLK_TCK
        ours_s += used_s
        result["cpu"][name] = {
            "seconds": round(used_s, 2),
            "ms_per_request": round(1000 * used_s / requests, 4) if requests else None,
            "core_share": round(used_s / wall, 3),
        }
    result["background"] = MachineCpu.now().others_since(machine_before, ours_s)
    return result


def error_count(run: dict[str, Any]) -> int:
    return int(sum(run["errors"].values()))


def ensure_wrk() -> str:
    """The wrk binary; installs the Debian package when running as root, else explains."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: trying `apt-get install -y wrk` ...", flush=True)
        for step in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"]):
            subprocess.run(step, check=False, timeout=600)
            found = shutil.which("wrk")
            if found:
                return found
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, timeout=600)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "the benchmark needs wrk (HTTP load generator). Install it with:\n"
        "    sudo apt-get install wrk      (Debian/Ubuntu; other systems: your package manager)"
    )
