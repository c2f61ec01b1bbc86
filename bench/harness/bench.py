"""`Bench`: the simulators, the gateways, the API key, and load runs with their retries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import (
    ANTHROPIC_MODEL,
    ANTHROPIC_VERSION,
    BUSY_RETRY_CORES,
    CHAT_PATH,
    CONNECTIONS,
    GATEWAY_CORE,
    LOAD_CORE,
    MODEL,
    NONSTREAM_BODY,
    STREAM_BODY,
    STREAM_CHUNKS,
    TOKENWARD,
    BenchError,
    Plan,
)
from harness.machine import disturbance, wait_for_quiet
from harness.procs import Proc, free_port, http_status, pinned, wait_for
from harness.wrk import error_count, run_wrk


@dataclass(frozen=True)
class Target:
    """Where a load run goes: URL, credentials, and the processes whose CPU it books."""

    label: str
    url: str
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: name -> pid of every process whose CPU time the run measures
    watch: Mapping[str, int] = field(default_factory=dict)
    #: the gateway under load, if any: a run fails when it died meanwhile
    gateway: Proc | None = None


class Bench:
    """The simulator(s), the gateway(s), the API key; the steps (`harness.steps_*`) use it."""

    def __init__(self, plan: Plan, pin: bool) -> None:
        self.plan = plan
        self.gw_core = GATEWAY_CORE if pin else None
        self.load_core = LOAD_CORE if pin else None
        #: both cores (the micro-benchmarks' own processes), or unpinned
        self.all_cores = f"{GATEWAY_CORE},{LOAD_CORE}" if pin else None
        self.tmp = Path(tempfile.mkdtemp(prefix="tokenward-bench-"))
        self.home = self.tmp / "home"
        self.home.mkdir()
        self.config = self.tmp / "tokenward.toml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        self.env["TOKENWARD_HOME"] = str(self.home)
        self.sim_port = free_port()
        #: the Anthropic-dialect simulator (translation step), started on demand
        self.anthropic_port = free_port()
        self.sim: Proc | None = None
        self.anthropic_sim: Proc | None = None
        self.gateway: Proc | None = None
        self.gw_port = 0
        self.key = ""
        self.notes: list[str] = []
        self.retries_left = 2 if plan.quick else 4
        #: no repeat (nor its wait) after this moment: keeps `make bench` within ~8 minutes
        self.retry_until = time.perf_counter() + (90 if plan.quick else 240)

    # ----------------------------------------------------------------- set-up

    def write_config(self) -> None:
        lines = [
            # the simulators' replies without a `sim_output_tokens` directive (the
            # translation step: an Anthropic body carries no such metadata upstream)
            "[simulator]",
            f"min_output_tokens = {STREAM_CHUNKS}",
            f"max_output_tokens = {STREAM_CHUNKS}",
            "[providers.sim]",
            'kind = "openai"',
            f'base_url = "http://127.0.0.1:{self.sim_port}/v1"',
            "timeout_s = 30",
            # the default pool (512) would queue half of the 1,000 concurrent streams
            f"max_connections = {max(1024, self.plan.streams + 64)}",
            "[providers.sim-anthropic]",
            'kind = "anthropic"',
            f'base_url = "http://127.0.0.1:{self.anthropic_port}/v1"',
            "timeout_s = 30",
            "[[models]]",
            f'name = "{MODEL}"',
            'provider = "sim"',
            f'upstream_model = "{MODEL}"',
            "[[models]]",
            f'name = "{ANTHROPIC_MODEL}"',
            'provider = "sim-anthropic"',
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

    def start_simulator(self, port: int, dialect: str = "openai") -> Proc:
        """`tokenward simulate` on the load core, returned once it is healthy."""
        args = [str(TOKENWARD), "simulate", "--config", str(self.config), "--port", str(port)]
        if dialect != "openai":
            args += ["--dialect", dialect]
        name = "simulator" if dialect == "openai" else f"simulator-{dialect}"
        proc = Proc(name, pinned(self.load_core, args), self.env, self.tmp / f"{name}.log")
        wait_for(proc, lambda: http_status(port, "GET", "/_sim/health") == 200, 30)
        return proc

    def setup(self) -> None:
        self.write_config()
        self.sim = self.start_simulator(self.sim_port)
        self.cli("accounts", "create", "bench")
        self.key = json.loads(self.cli("keys", "create", "--account", "bench", "--format", "json"))[
            "key"
        ]

    def spawn_gateway(self, env: Mapping[str, str] | None = None) -> tuple[Proc, int, float]:
        """A new `tokenward serve` on core 0; returns once it served a real completion."""
        port = free_port()
        spawned = time.perf_counter()
        proc = Proc(
            "gateway",
            pinned(
                self.gw_core,
                [str(TOKENWARD), "serve", "--config", str(self.config), "--port", str(port)],
            ),
            {**self.env, **(env or {})},
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

    # ----------------------------------------------------------------- targets

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}{CHAT_PATH}"

    def direct(self) -> Target:
        assert self.sim is not None
        return Target("direct", self.sim_url, watch={"upstream": self.sim.pid})

    def through(
        self,
        gateway: Proc,
        port: int,
        *,
        label: str = "gateway",
        path: str = CHAT_PATH,
        upstream: Proc | None = None,
        anthropic_client: bool = False,
    ) -> Target:
        """Load through `gateway` (listening on `port`), booking it and its upstream."""
        upstream = upstream or self.sim
        assert upstream is not None
        url = f"http://127.0.0.1:{port}{path}"
        watch = {"upstream": upstream.pid, "gateway": gateway.pid}
        if anthropic_client:
            headers = {"x-api-key": self.key, "anthropic-version": ANTHROPIC_VERSION}
            return Target(label, url, headers=headers, watch=watch, gateway=gateway)
        return Target(label, url, key=self.key, watch=watch, gateway=gateway)

    def main_target(self) -> Target:
        gateway = self.main_gateway()
        return self.through(gateway, self.gw_port)

    # ----------------------------------------------------------------- load

    def load(
        self,
        target: Target,
        body: str,
        connections: int,
        duration_s: int,
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        """One wrk run at `target`, repeated once when other processes took the CPU."""
        for attempt in range(2):
            result = run_wrk(
                target.url,
                body,
                target.key,
                connections,
                duration_s,
                core=self.load_core,
                headers=target.headers,
                watch=target.watch,
            )
            other = disturbance(result["background"])
            if (
                not retry
                or other <= BUSY_RETRY_CORES
                or attempt
                or self.retries_left <= 0
                or time.perf_counter() > self.retry_until
            ):
                break
            # another process or the hypervisor took CPU: repeat the run once, after a pause
            self.retries_left -= 1
            print(
                f"  other processes and steal took {other:.2f} cores during a "
                f"{target.label} run: repeating it",
                flush=True,
            )
            wait_for_quiet(10)
        result["repeated"] = bool(attempt)
        if target.gateway is not None and not target.gateway.alive():
            raise BenchError(f"the gateway died during a run:\n{target.gateway.log_tail()}")
        if error_count(result):
            self.notes.append(
                f"{target.label} run at {connections} connections had errors: {result['errors']}"
            )
        return result

    def wrk(
        self,
        target: str,
        body: str,
        connections: int,
        duration_s: int,
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        """A run at the simulator (`direct`) or through the main gateway (`gateway`)."""
        where = self.main_target() if target == "gateway" else self.direct()
        return self.load(where, body, connections, duration_s, retry=retry)

    def warm_up(self) -> None:
        self.main_gateway()
        for body in (NONSTREAM_BODY, STREAM_BODY):
            for target in ("direct", "gateway"):
                self.wrk(target, body, max(CONNECTIONS), self.plan.warmup_s, retry=False)
        time.sleep(0.5)
