"""The machine: CPU others use (and the wait for quiet), hardware, versions, commit."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.config import CLK_TCK, CORES, ROOT, Plan


@dataclass(frozen=True)
class MachineCpu:
    """Whole-machine CPU clocks (/proc/stat) and this script's own use, at one moment."""

    busy: int  # jiffies: user + nice + system + irq + softirq, all cores
    steal: int
    total: int
    own_s: float  # CPU seconds of this script and its reaped children (wrk, py-spy, ...)
    at: float

    @classmethod
    def now(cls) -> MachineCpu:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        own = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            own += usage.ru_utime + usage.ru_stime
        return cls(
            user + nice + system + irq + softirq, steal, sum(fields), own, time.perf_counter()
        )

    def others_since(self, before: MachineCpu, ours_s: float) -> dict[str, float]:
        """CPU the rest of the machine used meanwhile, in cores, and the steal share."""
        wall = max(self.at - before.at, 1e-6)
        busy_s = (self.busy - before.busy) / CLK_TCK
        others = max(0.0, busy_s - ours_s - (self.own_s - before.own_s))
        total = max(self.total - before.total, 1)
        return {
            "other_cores": round(others / wall, 3),
            "steal_share": round((self.steal - before.steal) / total, 3),
        }


def disturbance(background: Mapping[str, float]) -> float:
    """Cores taken from the run: by other processes, and by the hypervisor (steal)."""
    return float(background.get("other_cores", 0.0)) + CORES * float(
        background.get("steal_share", 0.0)
    )


def wait_for_quiet(max_wait_s: float, threshold: float = 0.15) -> float:
    """Cores others take (`disturbance`); waits (up to `max_wait_s`) for under `threshold`."""
    deadline = time.perf_counter() + max_wait_s
    while True:
        before = MachineCpu.now()
        time.sleep(2.0)
        load = disturbance(MachineCpu.now().others_since(before, 0.0))
        left = deadline - time.perf_counter()
        if load < threshold or left <= 0:
            return round(load, 3)
        print(
            f"machine busy: other processes and steal take {load:.2f} cores; "
            f"waiting for quiet (up to {left:.0f} s more)",
            flush=True,
        )
        time.sleep(min(3.0, max(left, 0.0)))


def git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def machine() -> dict[str, Any]:
    model = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    return {
        "cpu": model,
        "cores": os.cpu_count() or 1,
        "ram_gib": round(ram_gib, 1),
        "kernel": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for dist in ("tokenward", "uvicorn", "uvloop", "httptools", "aiohttp", "orjson", "sqlalchemy"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "-"
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        found["wrk"] = (out.stdout or out.stderr).split("\n", 1)[0].split(" [")[0]
    except (OSError, subprocess.SubprocessError):
        found["wrk"] = "-"
    return found


def run_meta(plan: Plan) -> dict[str, Any]:
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "quick": plan.quick,
    }
