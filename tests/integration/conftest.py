"""Real processes: a `tokenward simulate` upstream and `tokenward serve` gateways in front.

The gateway talks to the simulator over real HTTP (provider kind `openai`), and the
tests talk to the gateway over real HTTP with the official SDKs. The simulator keeps a
journal of everything it served: the oracle of exact metering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.processes import RunningProcess, free_port, start_process

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))
ADMIN_KEY = "tw-admin-test-key-0123456789"


@dataclass
class Simulator:
    process: RunningProcess
    url: str
    journal_path: Path

    def journal(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_sim/journal", timeout=10)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries

    def journal_entry(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for entry in reversed(self.journal()):
                if entry["request_id"] == request_id:
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no journal entry for {request_id}")
            time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats", timeout=10).json()
        return stats


@dataclass
class Gateway:
    home: Path
    config: Path
    port: int
    env: dict[str, str]
    process: RunningProcess | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [TOKENWARD, *args, "--config", str(self.config)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tokenward {' '.join(args)} failed: {result.stderr}")
        return result

    def start(self) -> None:
        self.process = start_process(
            [TOKENWARD, "serve", "--config", str(self.config), "--port", str(self.port)],
            env=self.env,
            health_url=f"{self.url}/healthz",
            timeout=30,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def new_key(self, account: str, *extra: str) -> str:
        accounts = json.loads(self.cli("accounts", "list", "--format", "json").stdout)
        if account not in {a["name"] for a in accounts}:
            self.cli("accounts", "create", account)
        created = json.loads(
            self.cli("keys", "create", "--account", account, "--format", "json", *extra).stdout
        )
        key: str = created["key"]
        self.keys[key] = created["id"]
        return key

    def usage(self, *args: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(self.cli("usage", "--format", "json", *args).stdout)
        return rows


def write_config(path: Path, upstream_url: str, server: dict[str, Any] | None = None) -> None:
    lines = [
        "[providers.sim]",
        'kind = "openai"',
        f'base_url = "{upstream_url}/v1"',
        "timeout_s = 30",
    ]
    for model in ("sim-small", "sim-large", "sim-reasoner", "sim-embed"):
        lines += [
            "[[models]]",
            f'name = "{model}"',
            'provider = "sim"',
            f'upstream_model = "{model}"',
        ]
    if server:
        lines.append("[server]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in server.items()]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    work = tmp_path_factory.mktemp("sim")
    port = free_port()
    journal = work / "journal.jsonl"
    process = start_process(
        [
            TOKENWARD,
            "simulate",
            "--port",
            str(port),
            "--journal",
            str(journal),
            "--chunk-delay-ms",
            "1",
        ],
        env={**os.environ, "TOKENWARD_HOME": str(work)},
        health_url=f"http://127.0.0.1:{port}/_sim/health",
        timeout=30,
    )
    try:
        yield Simulator(process, f"http://127.0.0.1:{port}", journal)
    finally:
        process.stop()


def make_gateway(
    tmp_path: Path, simulator: Simulator, server: dict[str, Any] | None = None, **env: str
) -> Gateway:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "tokenward.toml"
    write_config(config, simulator.url, server)
    full_env = {
        **os.environ,
        "TOKENWARD_HOME": str(home),
        "TOKENWARD_ADMIN_KEY": ADMIN_KEY,
        **env,
    }
    full_env.pop("TOKENWARD_CONFIG", None)
    return Gateway(home=home, config=config, port=free_port(), env=full_env)


@contextmanager
def redis_replicas(
    tmp_path: Path, simulator: Simulator, redis_url: str, **env: str
) -> Iterator[tuple[Gateway, Gateway]]:
    """Two running gateways sharing one Redis (limits) and one SQLite database."""
    first = make_gateway(
        tmp_path,
        simulator,
        TOKENWARD_REDIS_URL=redis_url,
        # a burst of 200 on a 2-core box queues limiter calls: a roomy deadline keeps
        # them enforced (the 50 ms default is about outages, tested on their own)
        TOKENWARD_LIMITS__REDIS_TIMEOUT_MS="3000",
        **env,
    )
    second = Gateway(home=first.home, config=first.config, port=free_port(), env=first.env)
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, simulator: Simulator) -> Iterator[Gateway]:
    gw = make_gateway(tmp_path_factory.mktemp("gw"), simulator, {"max_body_bytes": 65536})
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
