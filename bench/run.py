"""Tokenward benchmark: the gateway against its upstream, on one machine, in one run.

    make bench                                  # everything, ~4-5 minutes
    .venv/bin/python bench/run.py --quick       # shorter runs, same steps
    .venv/bin/python bench/run.py --only latency,throughput

Two processes serve HTTP on 127.0.0.1: the simulator upstream (`tokenward simulate`) and
the gateway in front of it (`tokenward serve`, one worker, SQLite ledger and metering
on, in a temporary TOKENWARD_HOME). The gateway is pinned to core 0, the simulator, wrk
and this script to core 1 (`taskset`). wrk (with bench/wrk.lua for the POST body) loads
(a) the simulator directly and (b) the gateway, at the same settings, so every gateway
number has its direct-upstream twin. Steps (`--only` takes any of them):

    startup     seconds from spawning `tokenward serve` to its first 200 chat completion
    latency     1 connection, non-stream: gateway p50/p99 minus direct p50/p99
    throughput  32 and 64 connections, non-stream and stream (20 chunks, usage last);
                gateway CPU time per request from /proc/<pid>/stat around each run
    profile     py-spy (installed into the venv on demand) during non-stream and
                stream runs; own time by function and module
    rss         VmRSS after 10,000 requests and with 1,000 streams open at once
                (bench/streams.py)

Results: a table on stdout, and bench/RESULTS.md (rewritten; the numbers of steps not
run this time are kept from its previous version). Raw artefacts (py-spy collapsed
stacks, which speedscope.app opens) go to bench/out/. Every process started here is
stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import linecache
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import IO, Any, ClassVar

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS_MD = BENCH / "RESULTS.md"
WRK_LUA = BENCH / "wrk.lua"
STREAMS_CLIENT = BENCH / "streams.py"
VENV_BIN = Path(sys.executable).parent
TOKENWARD = VENV_BIN / "tokenward"
PY_SPY = VENV_BIN / "py-spy"

GATEWAY_CORE = 0
LOAD_CORE = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
CHAT_PATH = "/v1/chat/completions"
MODEL = "sim-small"
STREAM_CHUNKS = 20
DATA_MARK = "<!-- tokenward-bench-data "

SECTIONS = ("startup", "latency", "throughput", "profile", "rss")
CONNECTIONS = (32, 64)
#: a run during which other processes used more CPU than this (cores) is repeated once
BUSY_RETRY_CORES = 0.25
#: other processes using more than this (cores) during a run earn a note in the results
BUSY_NOTE_CORES = 0.1

TARGETS = {
    "added_p50_ms": 0.5,
    "added_p99_ms": 2.0,
    "nonstream_rps": 2750.0,
    "stream_rps": 900.0,
}

#: per-worker reference numbers from the issue (measured elsewhere, not by this script)
PEERS = (
    ("LiteLLM 1.108.7", "~110", "36", "+11.6 ms"),
    ("Portkey 1.15.2", "~1,000", "740-820", "+0.83 ms"),
    ("bare raw-ASGI floor", "~7,000", "2,000", "+0.37 ms"),
)

PROMPT = [{"role": "user", "content": "Say hello to the benchmark, in twenty words."}]
NONSTREAM_BODY = json.dumps(
    {"model": MODEL, "messages": PROMPT, "metadata": {"sim_output_tokens": str(STREAM_CHUNKS)}},
    separators=(",", ":"),
)
# the same body to both targets: the gateway always asks upstream for usage anyway
STREAM_BODY = json.dumps(
    {
        "model": MODEL,
        "messages": PROMPT,
        "stream": True,
        "stream_options": {"include_usage": True},
        "metadata": {"sim_output_tokens": str(STREAM_CHUNKS)},
    },
    separators=(",", ":"),
)


class BenchError(RuntimeError):
    """A step could not run; the message says why."""


@dataclass(frozen=True)
class Plan:
    """How long and how often: the full run or `--quick`."""

    quick: bool
    run_s: int
    warmup_s: int
    startup_repeats: int
    profile_s: int
    rss_requests: int = 10_000
    streams: int = 1000
    stream_tokens: int = 100
    stream_delay_ms: int = 200

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(quick=True, run_s=3, warmup_s=1, startup_repeats=2, profile_s=3)
        return cls(quick=False, run_s=10, warmup_s=2, startup_repeats=3, profile_s=8)


# --------------------------------------------------------------------------- processes


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


def pinned(core: int | None, args: Sequence[str]) -> list[str]:
    """`taskset -c <core> args...` (taskset execs, so the pid stays the server's)."""
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


def wait_for_quiet(max_wait_s: float, threshold: float = 0.15) -> float:
    """Cores other processes keep busy; waits (up to `max_wait_s`) for under `threshold`."""
    deadline = time.perf_counter() + max_wait_s
    while True:
        before = MachineCpu.now()
        time.sleep(2.0)
        load = MachineCpu.now().others_since(before, 0.0)["other_cores"]
        left = deadline - time.perf_counter()
        if load < threshold or left <= 0:
            return load
        print(
            f"machine busy: other processes use {load:.2f} cores; "
            f"waiting for quiet (up to {left:.0f} s more)",
            flush=True,
        )
        time.sleep(min(3.0, max(left, 0.0)))


def http_status(
    port: int, method: str, path: str, body: str | None = None, key: str | None = None
) -> int:
    """Status of one request to 127.0.0.1:port (0 when the connection fails)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
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


# --------------------------------------------------------------------------- wrk


def run_wrk(
    url: str,
    body: str,
    key: str | None,
    connections: int,
    duration_s: int,
    *,
    core: int | None,
    watch: dict[str, int] | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """One wrk run; its summary plus the CPU ticks the `watch`ed pids used meanwhile."""
    env = {**os.environ, "TW_BENCH_BODY": body, "TW_BENCH_KEY": key or ""}
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
    before = {name: cpu_ticks(pid) for name, pid in (watch or {}).items()}
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
    for name, pid in (watch or {}).items():
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


# --------------------------------------------------------------------------- the bench


class Bench:
    """The simulator, the gateway(s), the API key, and one method per step."""

    def __init__(self, plan: Plan, pin: bool) -> None:
        self.plan = plan
        self.gw_core = GATEWAY_CORE if pin else None
        self.load_core = LOAD_CORE if pin else None
        self.tmp = Path(tempfile.mkdtemp(prefix="tokenward-bench-"))
        self.home = self.tmp / "home"
        self.home.mkdir()
        self.config = self.tmp / "tokenward.toml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        self.env["TOKENWARD_HOME"] = str(self.home)
        self.sim_port = free_port()
        self.sim: Proc | None = None
        self.gateway: Proc | None = None
        self.gw_port = 0
        self.key = ""
        self.notes: list[str] = []
        self.retries_left = 2 if plan.quick else 4
        #: no repeat (nor its wait) after this moment: keeps `make bench` within ~6 minutes
        self.retry_until = time.perf_counter() + (60 if plan.quick else 150)

    # ----------------------------------------------------------------- set-up

    def write_config(self) -> None:
        lines = [
            "[providers.sim]",
            'kind = "openai"',
            f'base_url = "http://127.0.0.1:{self.sim_port}/v1"',
            "timeout_s = 30",
            # the default pool (512) would queue half of the 1,000 concurrent streams
            f"max_connections = {max(1024, self.plan.streams + 64)}",
            "[[models]]",
            f'name = "{MODEL}"',
            'provider = "sim"',
            f'upstream_model = "{MODEL}"',
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [str(TOKENWARD), *args, "--config", str(self.config)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise BenchError(f"tokenward {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def start_simulator(self) -> None:
        self.sim = Proc(
            "simulator",
            pinned(self.load_core, [str(TOKENWARD), "simulate", "--port", str(self.sim_port)]),
            self.env,
            self.tmp / "simulator.log",
        )
        port = self.sim_port
        wait_for(self.sim, lambda: http_status(port, "GET", "/_sim/health") == 200, 30)

    def setup(self) -> None:
        self.write_config()
        self.start_simulator()
        self.cli("accounts", "create", "bench")
        self.key = json.loads(self.cli("keys", "create", "--account", "bench", "--format", "json"))[
            "key"
        ]

    def spawn_gateway(self) -> tuple[Proc, int, float]:
        """A new `tokenward serve` on core 0; returns once it served a real completion."""
        port = free_port()
        spawned = time.perf_counter()
        proc = Proc(
            "gateway",
            pinned(
                self.gw_core,
                [str(TOKENWARD), "serve", "--config", str(self.config), "--port", str(port)],
            ),
            self.env,
            self.tmp / f"gateway-{port}.log",
        )
        key = self.key
        wait_for(
            proc,
            lambda: http_status(port, "POST", CHAT_PATH, NONSTREAM_BODY, key) == 200,
            60,
        )
        return proc, port, time.perf_counter() - spawned

    def main_gateway(self) -> Proc:
        if self.gateway is None or not self.gateway.alive():
            self.gateway, self.gw_port, _ = self.spawn_gateway()
        return self.gateway

    def stop_main_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None

    def close(self) -> None:
        Proc.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ----------------------------------------------------------------- helpers

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}{CHAT_PATH}"

    @property
    def gw_url(self) -> str:
        return f"http://127.0.0.1:{self.gw_port}{CHAT_PATH}"

    def wrk(
        self,
        target: str,
        body: str,
        connections: int,
        duration_s: int,
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        assert self.sim is not None
        watch = {"upstream": self.sim.pid}
        if target == "gateway":
            gateway = self.main_gateway()
            watch["gateway"] = gateway.pid
            url, key = self.gw_url, self.key
        else:
            url, key = self.sim_url, None
        for attempt in range(2):
            result = run_wrk(
                url,
                body,
                key,
                connections,
                duration_s,
                core=self.load_core,
                watch=watch,
            )
            other = result["background"]["other_cores"]
            if (
                not retry
                or other <= BUSY_RETRY_CORES
                or attempt
                or self.retries_left <= 0
                or time.perf_counter() > self.retry_until
            ):
                break
            # another process on the machine stole CPU: repeat the run once, after a pause
            self.retries_left -= 1
            print(
                f"  other processes used {other:.2f} cores during a {target} run: repeating it",
                flush=True,
            )
            wait_for_quiet(10)
        result["repeated"] = bool(attempt)
        if target == "gateway" and not self.main_gateway().alive():
            raise BenchError("the gateway died during a run")
        if error_count(result):
            self.notes.append(
                f"{target} run at {connections} connections had errors: {result['errors']}"
            )
        return result

    def warm_up(self) -> None:
        self.main_gateway()
        for body in (NONSTREAM_BODY, STREAM_BODY):
            for target in ("direct", "gateway"):
                self.wrk(target, body, max(CONNECTIONS), self.plan.warmup_s, retry=False)
        time.sleep(0.5)

    # ----------------------------------------------------------------- steps

    def step_startup(self) -> dict[str, Any]:
        self.stop_main_gateway()
        seconds: list[float] = []
        for _ in range(self.plan.startup_repeats):
            proc, _, took = self.spawn_gateway()
            seconds.append(round(took, 3))
            proc.stop()
        return {
            "seconds": seconds,
            "median_s": round(statistics.median(seconds), 3),
            "first_s": seconds[0],
        }

    def step_latency(self) -> dict[str, Any]:
        self.warm_up()
        direct = self.wrk("direct", NONSTREAM_BODY, 1, self.plan.run_s)
        time.sleep(0.5)
        gateway = self.wrk("gateway", NONSTREAM_BODY, 1, self.plan.run_s)
        d, g = direct["latency_us"], gateway["latency_us"]
        return {
            "direct": direct,
            "gateway": gateway,
            "added_ms": {p: round((g[p] - d[p]) / 1000, 3) for p in ("p50", "p90", "p99", "mean")},
        }

    def step_throughput(self) -> dict[str, Any]:
        self.warm_up()
        runs: list[dict[str, Any]] = []
        for mode, body in (("non-stream", NONSTREAM_BODY), ("stream", STREAM_BODY)):
            for connections in CONNECTIONS:
                direct = self.wrk("direct", body, connections, self.plan.run_s)
                time.sleep(0.5)
                gateway = self.wrk("gateway", body, connections, self.plan.run_s)
                time.sleep(0.5)
                ratio = gateway["rps"] / direct["rps"] if direct["rps"] else 0.0
                runs.append(
                    {
                        "mode": mode,
                        "connections": connections,
                        "direct": direct,
                        "gateway": gateway,
                        "ratio": round(ratio, 3),
                    }
                )
                print(
                    f"  {mode:10} c={connections:<3} direct {direct['rps']:>8,.0f} req/s   "
                    f"gateway {gateway['rps']:>8,.0f} req/s",
                    flush=True,
                )
        return {"runs": runs}

    def step_profile(self) -> dict[str, Any]:
        spy = ensure_py_spy()
        gateway = self.main_gateway()
        self.wrk("gateway", NONSTREAM_BODY, max(CONNECTIONS), self.plan.warmup_s, retry=False)
        OUT.mkdir(exist_ok=True)
        profiles: dict[str, Any] = {"tool": py_spy_version(spy)}
        for mode, body in (("non-stream", NONSTREAM_BODY), ("stream", STREAM_BODY)):
            out = OUT / f"profile-{mode}.collapsed"
            out.unlink(missing_ok=True)
            args = pinned(
                self.load_core,
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(gateway.pid),
                    "--duration",
                    str(self.plan.profile_s),
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
            )
            with (self.tmp / "py-spy.log").open("ab") as log:
                spy_proc = subprocess.Popen(args, stdout=log, stderr=log)
                try:
                    run = self.wrk("gateway", body, 32, self.plan.profile_s + 2, retry=False)
                    spy_proc.wait(timeout=30)
                finally:
                    if spy_proc.poll() is None:
                        spy_proc.kill()
                        spy_proc.wait()
            if not out.exists():
                log_text = (self.tmp / "py-spy.log").read_text(errors="replace")[-2000:]
                raise BenchError(f"py-spy wrote no profile:\n{log_text}")
            summary = summarise_profile(out)
            summary["rps_while_profiling"] = run["rps"]
            summary["file"] = str(out.relative_to(ROOT))
            profiles[mode] = summary
        return profiles

    def step_rss(self) -> dict[str, Any]:
        self.stop_main_gateway()  # a fresh process, alone on its core
        assert self.sim is not None
        proc, port, _ = self.spawn_gateway()
        try:
            idle = rss_kib(proc.pid)
            run = run_wrk(
                f"http://127.0.0.1:{port}{CHAT_PATH}",
                NONSTREAM_BODY,
                self.key,
                32,
                120,
                core=self.load_core,
                stop_after=self.plan.rss_requests,
            )
            time.sleep(1.0)
            after_requests = rss_kib(proc.pid)
            streams = self._hold_streams(proc, port)
            return {
                "idle_kib": idle,
                "requests": run["requests"] + 1,  # + the readiness probe
                "after_requests_kib": after_requests,
                "streams": streams,
            }
        finally:
            proc.stop(timeout=20)

    def _hold_streams(self, gateway: Proc, port: int) -> dict[str, Any]:
        assert self.sim is not None
        plan = self.plan
        stream_s = plan.stream_tokens * plan.stream_delay_ms / 1000
        sim_before = rss_kib(self.sim.pid)
        gw_before = rss_kib(gateway.pid)
        args = pinned(
            self.load_core,
            [
                sys.executable,
                str(STREAMS_CLIENT),
                "--url",
                f"http://127.0.0.1:{port}{CHAT_PATH}",
                "--key",
                self.key,
                "--count",
                str(plan.streams),
                "--output-tokens",
                str(plan.stream_tokens),
                "--chunk-delay-ms",
                str(plan.stream_delay_ms),
                "--open-timeout",
                str(stream_s * 0.75),
            ],
        )
        client = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        try:
            assert client.stdout is not None and client.stdin is not None
            reader = LineReader(client.stdout)
            deadline = time.perf_counter() + stream_s + 30
            ready: dict[str, Any] | None = None
            while ready is None and (line := reader.line(deadline)) is not None:
                if line.startswith("READY "):
                    ready = json.loads(line[6:])
            if ready is None:
                raise BenchError("the streams client never reported READY")
            held = {
                "gateway_kib": rss_kib(gateway.pid),
                "gateway_fds": open_fds(gateway.pid),
                "upstream_kib": rss_kib(self.sim.pid),
            }
            client.stdin.write(b"close\n")
            client.stdin.flush()
            done: dict[str, Any] = {}
            while (line := reader.line(time.perf_counter() + 60)) is not None:
                if line.startswith("DONE "):
                    done = json.loads(line[5:])
            client.wait(timeout=30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        # drain policy: the gateway reads each upstream to its end; wait until it is idle
        settle_deadline = time.perf_counter() + stream_s + 10
        last = cpu_ticks(gateway.pid)
        while time.perf_counter() < settle_deadline:
            time.sleep(1.0)
            now = cpu_ticks(gateway.pid)
            if now - last <= 1:
                break
            last = now
        open_streams = int(ready["open"])
        return {
            "requested": plan.streams,
            "output_tokens": plan.stream_tokens,
            "chunk_delay_ms": plan.stream_delay_ms,
            "ready": ready,
            "done": done,
            "gateway_before_kib": gw_before,
            "upstream_before_kib": sim_before,
            **held,
            "per_stream_kib": round((held["gateway_kib"] - gw_before) / open_streams, 1)
            if open_streams
            else None,
            "after_close_kib": rss_kib(gateway.pid),
        }


# --------------------------------------------------------------------------- tools


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


def ensure_py_spy() -> Path:
    """py-spy in the venv, installed from PyPI on first use (a bench-only tool)."""
    if not PY_SPY.exists():
        print("installing py-spy into the venv (bench-only) ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=False, timeout=300
        )
    if not PY_SPY.exists():
        raise BenchError("py-spy is not available: `.venv/bin/pip install py-spy`")
    return PY_SPY


def py_spy_version(spy: Path) -> str:
    out = subprocess.run([str(spy), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or "py-spy"


_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
#: top frames that mean "inside the event loop's own C code" (uvloop: I/O, callbacks)
_LOOP_FRAMES = ("Runner.run", "run_until_complete", "BaseEventLoop.run_forever")
#: a sample whose innermost line is one of these calls is a thread blocked (in a queue
#: get, a lock, a GIL hand-over after a wake-up), which py-spy cannot always tell from work
_WAIT_CALLS = (".get(block=True)", ".acquire(", ".wait(", "sleep(", ".select(")


def _split_frame(frame: str) -> tuple[str, str, int]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, "?", 0
    return match["name"], match["file"], int(match["line"] or 0)


@functools.cache
def _source_line(file: str, line: int) -> str:
    """The source text of a py-spy frame (its paths are relative to a sys.path entry)."""
    for base in sys.path:
        candidate = Path(base or ".") / file
        if candidate.is_file():
            return linecache.getline(str(candidate), line).strip()
    return ""


def _area(file: str) -> str:
    """The module (our code) or the package (everything else) a frame belongs to."""
    if file.startswith("tokenward/"):
        return file.removesuffix(".py").replace("/", ".")
    top = file.split("/", 1)[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return f"{top} (stdlib)"
    return top


def summarise_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Own time by function and by module, inclusive time of Tokenward functions.

    Shares are of the samples py-spy took while a thread was not idle, minus those
    blocked in a wait (`_WAIT_CALLS`, reported as `waiting_share`).
    """
    total = waiting = threads = 0
    own_fn: Counter[str] = Counter()
    own_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for text in path.read_text(errors="replace").splitlines():
        stack, _, count_text = text.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        name, file, line = _split_frame(frames[-1])
        if any(call in _source_line(file, line) for call in _WAIT_CALLS):
            waiting += count
            continue
        total += count
        if frames[0].startswith("Thread._bootstrap"):
            threads += count
        if name in _LOOP_FRAMES or file.startswith("uvicorn/_compat"):
            own_fn["[event loop: uvloop C code, socket I/O]"] += count
            own_area["uvloop (native)"] += count
        else:
            own_fn[f"{name} ({file})"] += count
            own_area[_area(file)] += count
        seen: set[str] = set()
        for frame in frames:
            name, file, _ = _split_frame(frame)
            if file.startswith("tokenward/") and not file.startswith("tokenward/cli"):
                label = f"{name} ({file})"
                if label not in seen:
                    seen.add(label)
                    inclusive[label] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return (
            [[k, round(100 * v / total, 1)] for k, v in counter.most_common(top)] if total else []
        )

    return {
        "samples": total,
        "waiting_share": round(100 * waiting / (total + waiting), 1) if total else 0.0,
        "worker_thread_share": round(100 * threads / total, 1) if total else 0.0,
        "own_by_function": share(own_fn),
        "own_by_module": share(own_area),
        "inclusive_tokenward": share(inclusive),
    }


# --------------------------------------------------------------------------- environment


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


# --------------------------------------------------------------------------- report


def load_previous() -> dict[str, Any]:
    """The data block of the current RESULTS.md, to keep the steps not run this time."""
    try:
        text = RESULTS_MD.read_text()
    except OSError:
        return {}
    start = text.find(DATA_MARK)
    if start < 0:
        return {}
    end = text.find(" -->", start)
    try:
        data: dict[str, Any] = json.loads(text[start + len(DATA_MARK) : end])
    except (ValueError, json.JSONDecodeError):
        return {}
    return data


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def summary_rows(data: dict[str, Any]) -> list[list[str]]:
    """[measure, direct, gateway, gateway vs direct, target, status] rows."""
    sections = data.get("sections", {})
    rows: list[list[str]] = []
    latency = sections.get("latency", {}).get("data")
    if latency:
        for p, target in (("p50", "added_p50_ms"), ("p99", "added_p99_ms")):
            added = latency["added_ms"][p]
            rows.append(
                [
                    f"Latency {p}, 1 connection, non-stream",
                    ms(latency["direct"]["latency_us"][p]),
                    ms(latency["gateway"]["latency_us"][p]),
                    f"{added:+.2f} ms",
                    f"<= +{TARGETS[target]:g} ms",
                    verdict(added <= TARGETS[target]),
                ]
            )
    throughput = sections.get("throughput", {}).get("data")
    if throughput:
        for run in throughput["runs"]:
            stream = run["mode"] == "stream"
            floor = TARGETS["stream_rps" if stream else "nonstream_rps"]
            label = f"stream ({STREAM_CHUNKS} chunks)" if stream else "non-stream"
            rows.append(
                [
                    f"Throughput {label}, {run['connections']} connections",
                    rps(run["direct"]["rps"]),
                    rps(run["gateway"]["rps"]),
                    f"{run['ratio']:.2f}x",
                    f">= {floor:,.0f} req/s",
                    verdict(run["gateway"]["rps"] >= floor),
                ]
            )
        for run in throughput["runs"]:
            if run["connections"] == CONNECTIONS[0]:
                cpu = run["gateway"]["cpu"]["gateway"]
                floor = TARGETS["stream_rps" if run["mode"] == "stream" else "nonstream_rps"]
                capacity = 1000 / cpu["ms_per_request"] if cpu["ms_per_request"] else 0.0
                rows.append(
                    [
                        f"Gateway CPU per request, {run['mode']}, {run['connections']} conn.",
                        "-",
                        f"{cpu['ms_per_request']:.3f} ms",
                        f"= {capacity:,.0f} req/s per busy core (core was "
                        f"{100 * cpu['core_share']:.0f}% busy)",
                        f">= {floor:,.0f} req/s",
                        "implies " + verdict(capacity >= floor),
                    ]
                )
    startup = sections.get("startup", {}).get("data")
    if startup:
        rows.append(
            [
                "Start-up to first served request",
                "-",
                f"{startup['median_s']:.2f} s",
                "median of " + ", ".join(f"{s:.2f}" for s in startup["seconds"]) + " s",
                "-",
                "info",
            ]
        )
    rss = sections.get("rss", {}).get("data")
    if rss:
        rows.append(
            [
                f"RSS after {rss['requests']:,} requests",
                "-",
                f"{rss['after_requests_kib'] / 1024:.1f} MiB",
                f"idle {rss['idle_kib'] / 1024:.1f} MiB",
                "-",
                "info",
            ]
        )
        s = rss["streams"]
        rows.append(
            [
                f"RSS with {s['ready']['open']:,} open streams",
                f"{s['upstream_kib'] / 1024:.1f} MiB",
                f"{s['gateway_kib'] / 1024:.1f} MiB",
                f"{s['per_stream_kib']} KiB per stream" if s["per_stream_kib"] else "-",
                "-",
                "info",
            ]
        )
    return rows


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


SUMMARY_HEADER = ("Measure", "Direct upstream", "Gateway", "Gateway vs direct", "Target", "")


def section_origin(data: dict[str, Any], name: str) -> str:
    meta = data["sections"][name]["meta"]
    parts = []
    if meta != data["meta"]:
        parts.append(f"measured {meta['date']} at {meta['commit']}")
    if meta.get("quick"):
        parts.append("`--quick` run")
    return f" _({'; '.join(parts)})_" if parts else ""


def render_wrk_row(label: str, run: dict[str, Any], with_cpu: bool) -> list[str]:
    lat = run["latency_us"]
    row = [
        label + (" (repeated: machine was busy)" if run.get("repeated") else ""),
        str(run["connections"]),
        f"{run['rps']:,.0f}",
        ms(lat["p50"]),
        ms(lat["p99"]),
        ms(lat["max"]),
        str(error_count(run)),
    ]
    upstream = run["cpu"].get("upstream", {})
    gateway = run["cpu"].get("gateway")
    if with_cpu:
        row += [
            f"{gateway['ms_per_request']:.3f}" if gateway else "-",
            f"{100 * gateway['core_share']:.0f}%" if gateway else "-",
            f"{upstream['ms_per_request']:.3f}" if upstream else "-",
        ]
    background = run.get("background")
    row.append(
        f"{background['other_cores']:.2f} cores, steal {100 * background['steal_share']:.0f}%"
        if background
        else "-"
    )
    return row


WRK_HEADER = (
    "Run",
    "Conns",
    "req/s",
    "p50",
    "p99",
    "max",
    "Errors",
    "Gateway CPU ms/req",
    "Gateway core busy",
    "Upstream CPU ms/req",
    "Other processes",
)


def render_markdown(data: dict[str, Any], plan: Plan) -> str:
    meta, mach, ver = data["meta"], data["machine"], data["versions"]
    sections = data["sections"]
    lines = [
        "# Tokenward benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); edit the script, not this file. "
        "Method below; how to run it in `bench/README.md`.",
        "",
        f"- **Date:** {meta['date']}" + (" (`--quick` run)" if meta.get("quick") else ""),
        f"- **Commit:** {meta['commit']}",
        f"- **Machine:** {mach['cpu']}, {mach['cores']} cores, {mach['ram_gib']} GiB RAM, "
        f"{mach['kernel']}; other processes used {mach.get('other_cores_at_start', 0):.2f} "
        "cores when the run started",
        "- **Versions:** " + ", ".join(f"{k} {v.removeprefix(k + ' ')}" for k, v in ver.items()),
        "",
        "## Summary",
        "",
        *md_table(SUMMARY_HEADER, summary_rows(data)),
        "",
        "Direct upstream = wrk against the simulator alone (then it has core 1 to itself "
        "with wrk); gateway = wrk against Tokenward (core 0) in front of the same simulator.",
        "",
        "### Peer reference (per worker, from the issue; not measured by this script)",
        "",
    ]
    peer_rows: list[list[str]] = []
    throughput = sections.get("throughput", {}).get("data")
    latency = sections.get("latency", {}).get("data")
    if throughput or latency:

        def best(mode: str) -> str:
            if not throughput:
                return "-"
            values = [r["gateway"]["rps"] for r in throughput["runs"] if r["mode"] == mode]
            return f"{max(values):,.0f}"

        added = f"{latency['added_ms']['p50']:+.2f} ms" if latency else "-"
        peer_rows.append(
            ["**Tokenward (this run)**", best("non-stream"), best("stream"), f"**{added}**"]
        )
    peer_rows += [list(p) for p in PEERS]
    lines += md_table(
        ("Gateway", "Non-stream req/s", "Stream req/s", "Added p50 latency"), peer_rows
    )
    lines.append("")

    if latency:
        lines += [
            "## 1. Added latency at low load" + section_origin(data, "latency"),
            "",
            *md_table(
                WRK_HEADER,
                [
                    render_wrk_row("direct upstream", latency["direct"], True),
                    render_wrk_row("gateway", latency["gateway"], True),
                ],
            ),
            "",
            "Added by the gateway: "
            + ", ".join(f"{p} {v:+.3f} ms" for p, v in latency["added_ms"].items())
            + ".",
            "",
        ]
    if throughput:
        rows: list[list[str]] = []
        for run in throughput["runs"]:
            rows.append(render_wrk_row(f"{run['mode']}, direct", run["direct"], True))
            rows.append(
                render_wrk_row(
                    f"{run['mode']}, gateway ({run['ratio']:.2f}x)", run["gateway"], True
                )
            )
        lines += [
            "## 2-3. Throughput of one worker, CPU per request"
            + section_origin(data, "throughput"),
            "",
            *md_table(WRK_HEADER, rows),
            "",
            "CPU ms/req = (utime + stime) of the process over the run / requests completed; "
            "core busy = that CPU time / wall time (100% = the pinned core was saturated). "
            "In direct runs the upstream shares core 1 with wrk; in gateway runs the "
            "upstream, wrk (and nothing else) share core 1.",
            "",
        ]
    startup = sections.get("startup", {}).get("data")
    if startup:
        lines += [
            "## 4. Start-up" + section_origin(data, "startup"),
            "",
            "Seconds from spawning `taskset -c 0 tokenward serve` to the first `200` of a "
            "real chat completion (polled every 10 ms): "
            + ", ".join(f"{s:.3f}" for s in startup["seconds"])
            + f" s (median {startup['median_s']:.3f} s). The first spawn of a run also "
            "creates the first-start admin/demo keys.",
            "",
        ]
    rss = sections.get("rss", {}).get("data")
    if rss:
        s = rss["streams"]
        lines += [
            "## 5. Memory (VmRSS)" + section_origin(data, "rss"),
            "",
            *md_table(
                ("Moment", "Gateway RSS", "Upstream RSS", "Notes"),
                [
                    ["after the first request", f"{rss['idle_kib'] / 1024:.1f} MiB", "-", ""],
                    [
                        f"after {rss['requests']:,} requests (non-stream, 32 conns)",
                        f"{rss['after_requests_kib'] / 1024:.1f} MiB",
                        f"{s['upstream_before_kib'] / 1024:.1f} MiB",
                        "",
                    ],
                    [
                        f"{s['ready']['open']:,} streams open at once",
                        f"{s['gateway_kib'] / 1024:.1f} MiB",
                        f"{s['upstream_kib'] / 1024:.1f} MiB",
                        f"{s['per_stream_kib']} KiB/stream over the previous line; "
                        f"{s['gateway_fds']} open fds; all first chunks after "
                        f"{s['ready']['seconds_to_all_first_chunks']:.1f} s",
                    ],
                    [
                        "after the client closed them and the gateway drained them",
                        f"{s['after_close_kib'] / 1024:.1f} MiB",
                        "-",
                        "",
                    ],
                ],
            ),
            "",
            f"Streams: {s['requested']:,} requests opened at once by `bench/streams.py` "
            f"(asyncio + aiohttp, core 1), each asking the simulator for "
            f"{s['output_tokens']} chunks {s['chunk_delay_ms']} ms apart; RSS sampled once "
            f"every stream had its first chunk (client report: {json.dumps(s['ready'])}; "
            f"after close: {json.dumps(s['done'])}).",
            "",
        ]
    profile = sections.get("profile", {}).get("data")
    if profile:
        lines += ["## 6. Profile of the hot path" + section_origin(data, "profile"), ""]
        lines += [
            f"{profile['tool']}, `record --nonblocking --rate 250 --format raw`, attached to "
            f"the gateway during a 32-connection wrk run; shares are of on-CPU samples "
            f"(idle excluded). Collapsed stacks: `bench/out/profile-*.collapsed` (open them "
            f"in https://speedscope.app).",
            "",
        ]
        for mode in ("non-stream", "stream"):
            prof = profile.get(mode)
            if not prof:
                continue
            lines += [
                f"### {mode} ({prof['samples']:,} samples, {prof['rps_while_profiling']:,.0f} "
                f"req/s while sampled)",
                "",
                f"{prof['worker_thread_share']}% of the samples are on worker threads (the "
                "ledger writer, `asyncio.to_thread`), the rest on the event loop; "
                f"{prof.get('waiting_share', 0)}% more were threads blocked in a queue, lock "
                "or GIL wait and are left out.",
                "",
                "Own time by function (top 10):",
                "",
                *md_table(
                    ("#", "Function (file)", "Share"),
                    [
                        [str(i), f"`{name}`", f"{pct}%"]
                        for i, (name, pct) in enumerate(prof["own_by_function"][:10], 1)
                    ],
                ),
                "",
                "Own time by module / package:",
                "",
                *md_table(
                    ("Module or package", "Share"),
                    [[f"`{name}`", f"{pct}%"] for name, pct in prof["own_by_module"][:12]],
                ),
                "",
                "Inclusive time of Tokenward functions (this frame and everything it calls):",
                "",
                *md_table(
                    ("Function (file)", "Share"),
                    [[f"`{name}`", f"{pct}%"] for name, pct in prof["inclusive_tokenward"][:12]],
                ),
                "",
            ]
    lines += [
        "## Method",
        "",
        f"- One run, one machine, loopback only. Gateway: `tokenward serve` (1 worker, "
        f"uvicorn + uvloop + httptools, SQLite ledger in a temporary `TOKENWARD_HOME`, "
        f"metering and group-commit ledger on, as by default) pinned with `taskset -c "
        f"{GATEWAY_CORE}`. Upstream: `tokenward simulate` (no delays) pinned to core "
        f"{LOAD_CORE}, with wrk, the streams client and this script.",
        "- The bench config declares the simulator as an `openai`-kind provider with "
        "`max_connections` raised to fit the 1,000-stream step (the default pool of 512 "
        "would queue half of them); nothing else differs from the defaults.",
        "- Load: `wrk -t1 -c<N> -d<T>s --latency -s bench/wrk.lua` (POST body and key from "
        "the environment; the script prints its summary and percentiles as JSON). The same "
        "body goes to the upstream directly and through the gateway: model `sim-small`, "
        f"`metadata.sim_output_tokens = {STREAM_CHUNKS}` (a {STREAM_CHUNKS}-word reply; as a "
        f"stream, {STREAM_CHUNKS} content chunks, then finish and usage chunks), streams "
        "with `stream_options.include_usage`.",
        f"- Warm-up: {plan.warmup_s} s at 64 connections per target and mode before the "
        f"latency and throughput steps. Runs: {plan.run_s} s each. Latency: 1 connection, "
        "non-stream, direct then gateway; added = gateway percentile minus direct percentile.",
        "- Throughput: 32 and 64 connections, non-stream and stream, direct then gateway. "
        "CPU per request: `/proc/<pid>/stat` utime + stime (all threads) of the gateway "
        "before and after each run, over the requests wrk completed.",
        "- Start-up: spawn `tokenward serve`, poll a real chat completion every 10 ms until "
        f"200; {plan.startup_repeats} spawns.",
        f"- RSS (`VmRSS` of `/proc/<pid>/status`) of a fresh gateway: after its first "
        f"request, after {plan.rss_requests:,} more (wrk, 32 connections), and with "
        f"{plan.streams:,} concurrent streams from `bench/streams.py` "
        f"(`sim_output_tokens` {plan.stream_tokens}, `sim_chunk_delay_ms` "
        f"{plan.stream_delay_ms}: slow enough that the gateway core is not saturated by "
        "relaying chunks while the streams are held).",
        "- Profile: py-spy (pip-installed into the venv at bench time only) attached "
        f"for {plan.profile_s} s to the running gateway under 32 connections.",
        "",
    ]
    notes = data.get("notes") or []
    if notes:
        lines += ["## Notes of this run", "", *[f"- {n}" for n in notes], ""]
    lines += [f"{DATA_MARK}{json.dumps(data, separators=(',', ':'))} -->", ""]
    return "\n".join(lines)


def auto_notes(data: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    busy_runs: list[str] = []
    latency = data["sections"].get("latency", {}).get("data")
    for name in ("direct", "gateway") if latency else ():
        if latency[name].get("background", {}).get("other_cores", 0) > BUSY_NOTE_CORES:
            busy_runs.append(f"latency {name}")
    for run in (data["sections"].get("throughput", {}).get("data") or {}).get("runs", []):
        for name in ("direct", "gateway"):
            if run[name].get("background", {}).get("other_cores", 0) > BUSY_NOTE_CORES:
                busy_runs.append(f"{run['mode']} c={run['connections']} {name}")
    if busy_runs:
        notes.append(
            f"Other processes used more than {BUSY_NOTE_CORES} cores during: "
            + ", ".join(busy_runs)
            + " (see the 'Other processes' column); those numbers are pessimistic."
        )
    throughput = data["sections"].get("throughput", {}).get("data")
    if throughput:
        busy = [r["gateway"]["cpu"]["gateway"]["core_share"] for r in throughput["runs"]]
        if busy_runs and min(busy) < 0.9:
            notes.append(
                "The gateway did not have its core to itself (other processes are not pinned), "
                "so its req/s understate it; CPU time per request, and the req/s it implies "
                "for one fully busy core, is the steadier number on a busy machine."
            )
        if min(busy) >= 0.9:
            notes.append(
                "The gateway's core was >= 90% busy in every throughput run: the numbers "
                "are its CPU limit, not the upstream's."
            )
        for run in throughput["runs"]:
            if run["direct"]["rps"] < run["gateway"]["rps"] * 1.2:
                notes.append(
                    f"{run['mode']} at {run['connections']} connections: the direct upstream "
                    "is barely faster than the gateway, so the upstream or wrk (core 1) may "
                    "bound the gateway number."
                )
    return notes


# --------------------------------------------------------------------------- main


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def preflight() -> bool:
    """Tools and cores; returns whether the processes can be pinned to two cores."""
    if sys.platform != "linux":
        raise BenchError("the benchmark reads /proc and uses taskset: Linux only")
    if not TOKENWARD.exists():
        raise BenchError(f"{TOKENWARD} not found: run `make install` first")
    ensure_wrk()
    cores = os.sched_getaffinity(0)
    pin = shutil.which("taskset") is not None and {GATEWAY_CORE, LOAD_CORE} <= cores
    if not pin:
        print(
            "warning: cannot pin to cores 0 and 1 (need taskset and two cores); "
            "running unpinned, numbers are not comparable",
            flush=True,
        )
    else:
        os.sched_setaffinity(0, {LOAD_CORE})  # this script stays off the gateway's core
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the servers
    return pin


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Tokenward benchmark (gateway vs direct upstream; writes bench/RESULTS.md)."
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (~1.5 minutes)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated steps among {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, leave RESULTS.md alone"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite RESULTS.md from the data it embeds (after editing "
        "this script's report code)",
    )
    parser.add_argument(
        "--max-wait-quiet",
        type=float,
        default=30.0,
        metavar="S",
        help="wait up to S seconds for other processes to leave the CPU first (default 30)",
    )
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        parser.error(f"--only takes {', '.join(SECTIONS)}; got {args.only!r}")
    args.sections = [s for s in SECTIONS if s in chosen]
    return args


def render_only() -> int:
    data = load_previous()
    if not data.get("sections"):
        print(f"{RESULTS_MD.relative_to(ROOT)} holds no benchmark data to render", file=sys.stderr)
        return 1
    RESULTS_MD.write_text(render_markdown(data, Plan.make(bool(data["meta"].get("quick")))))
    print(
        text_table(SUMMARY_HEADER, [[c.replace("**", "") for c in r] for r in summary_rows(data)])
    )
    print(f"\nrewrote {RESULTS_MD.relative_to(ROOT)} from its data")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_only()
    plan = Plan.make(args.quick)
    started = time.perf_counter()
    bench: Bench | None = None
    with interrupt_on_sigterm():
        try:
            pin = preflight()
            background = wait_for_quiet(args.max_wait_quiet)
            meta = run_meta(plan)
            data = load_previous()
            data.setdefault("sections", {})
            data.update(meta=meta, machine=machine(), versions=versions())
            data["machine"]["other_cores_at_start"] = background
            bench = Bench(plan, pin)
            print(f"bench: state in {bench.tmp}; steps: {', '.join(args.sections)}", flush=True)
            bench.setup()
            for name in args.sections:
                print(f"[{time.perf_counter() - started:5.0f}s] {name} ...", flush=True)
                step: Callable[[], dict[str, Any]] = getattr(bench, f"step_{name}")
                data["sections"][name] = {"meta": meta, "data": step()}
            bench.stop_main_gateway()
            data["notes"] = [*bench.notes, *auto_notes(data)]
            if not pin:
                data["notes"].append("Run unpinned (no taskset or fewer than two cores).")
        except KeyboardInterrupt:
            print("\ninterrupted: stopping every process started by the benchmark", flush=True)
            return 130
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            if bench is not None:
                bench.close()
            Proc.stop_all()
    print()
    print(
        text_table(SUMMARY_HEADER, [[c.replace("**", "") for c in r] for r in summary_rows(data)])
    )
    for note in data["notes"]:
        print(f"note: {note}")
    if not args.no_write:
        RESULTS_MD.write_text(render_markdown(data, plan))
        print(f"\nwrote {RESULTS_MD.relative_to(ROOT)}", end="")
    print(f" ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
