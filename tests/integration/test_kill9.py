"""`kill -9` of the gateway mid-run loses no event whose response the client fully
received, and books none twice (group commit before the last bytes)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

import httpx

from tests.integration.conftest import Simulator, make_gateway
from tests.integration.helpers import ledger_events

TOTAL = 500
CONCURRENCY = 16


async def one_request(client: httpx.AsyncClient, index: int, key: str) -> tuple[str | None, bool]:
    """(request id, whether the client fully received the response)."""
    stream = index % 3 == 0
    body = {
        "model": "sim-small",
        "messages": [{"role": "user", "content": f"request {index}"}],
        "stream": stream,
    }
    try:
        async with client.stream(
            "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as response:
            request_id = response.headers.get("x-request-id")
            text = (await response.aread()).decode()
            if response.status_code != 200:
                return request_id, False
            complete = "data: [DONE]" in text if stream else text.rstrip().endswith("}")
            return request_id, complete
    except httpx.HTTPError:
        return None, False


async def drive(
    url: str, key: str, indexes: range, kill_after: int | None, pid: int | None
) -> list[tuple[str | None, bool]]:
    results: list[tuple[str | None, bool]] = []
    queue = list(indexes)
    done = 0
    killed = False

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, killed
            while queue:
                index = queue.pop(0)
                results.append(await one_request(client, index, key))
                done += 1
                if kill_after is not None and done >= kill_after and not killed and pid:
                    killed = True
                    os.kill(pid, signal.SIGKILL)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return results


def test_kill9_loses_no_completed_response(tmp_path: Path, simulator: Simulator) -> None:
    gateway = make_gateway(tmp_path, simulator)
    gateway.start()
    key = gateway.new_key("crash")
    assert gateway.process is not None
    kill_after = random.Random(7).randint(150, 250)
    first = asyncio.run(
        drive(gateway.url, key, range(TOTAL // 2 + 100), kill_after, gateway.process.pid)
    )
    gateway.process.wait_exit(timeout=10)
    gateway.process = None
    gateway.start()  # same database, fresh process
    second = asyncio.run(drive(gateway.url, key, range(TOTAL // 2 + 100, TOTAL), None, None))
    gateway.stop()

    results = first + second
    completed = [rid for rid, ok in results if ok and rid]
    assert len(results) == TOTAL
    assert len(completed) >= TOTAL // 2, "the run should mostly succeed"
    assert any(not ok for _, ok in first), "the kill should have cut some requests"
    events = ledger_events(gateway, [rid for rid, _ in results if rid])
    missing = [rid for rid in completed if rid not in events]
    assert missing == [], f"{len(missing)} fully received responses are not in the ledger"
    # none twice: request_id is the primary key, and every event belongs to one request
    assert len(events) == len({e.request_id for e in events.values()})
    [row] = gateway.usage("--account", "crash", "--by", "account")
    assert len(completed) <= row["requests"] <= TOTAL
