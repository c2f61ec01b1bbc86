"""`tokenward serve --workers 2`: both workers share one SQLite ledger and one key set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.helpers.processes import start_process
from tests.integration.conftest import TOKENWARD, Simulator, make_gateway


def test_two_workers_serve_and_book_every_request(tmp_path: Path, simulator: Simulator) -> None:
    gateway = make_gateway(tmp_path, simulator)
    key = gateway.new_key("workers")
    process = start_process(
        [
            TOKENWARD,
            "serve",
            "--config",
            str(gateway.config),
            "--port",
            str(gateway.port),
            "--workers",
            "2",
        ],
        env=gateway.env,
        health_url=f"{gateway.url}/healthz",
        timeout=30,
    )
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}

    def call(_: int) -> int:
        response = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["usage"]["completion_tokens"])

    try:
        with ThreadPoolExecutor(8) as pool:
            outputs = list(pool.map(call, range(80)))
    finally:
        process.stop()
    [row] = gateway.usage("--account", "workers", "--by", "account")
    assert row["requests"] == 80
    assert row["output_tokens"] == sum(outputs)
