"""Periodic upkeep of the money path, run by every gateway process.

* expired credit holds are released (a replica killed mid-request leaves holds
  that nobody else would settle);
* subscriptions whose period ended are renewed, and waitlists promoted when seats
  or a new day's sales cap allow.

Each job is idempotent and safe to run from several processes at once (ledger
transaction ids and row locks decide who does the work), so no leader is needed.
A failing job is logged and retried at the next tick; it never stops the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from tokenward.clock import Clock
from tokenward.storage.db import Store

log = logging.getLogger("tokenward.jobs")

Job = Callable[[Store, Clock], object]


@dataclass(frozen=True, slots=True)
class Periodic:
    """One job and how often it runs."""

    name: str
    run: Job
    every_s: float


class Upkeep:
    """Runs `Periodic` jobs on threads (the store is synchronous), each on its own beat."""

    def __init__(self, store: Store, clock: Clock, jobs: list[Periodic]) -> None:
        self._store = store
        self._clock = clock
        self._jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._loop(job), name=job.name) for job in self._jobs]

    async def run_once(self) -> None:
        """Every job once, now (tests and start-up)."""
        for job in self._jobs:
            await self._tick(job)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, job: Periodic) -> None:
        while True:
            await asyncio.sleep(job.every_s)
            await self._tick(job)

    async def _tick(self, job: Periodic) -> None:
        try:
            await asyncio.to_thread(job.run, self._store, self._clock)
        except Exception as exc:  # noqa: BLE001 - upkeep retries at the next tick
            log.warning("upkeep job %s failed: %s", job.name, exc)


__all__ = ["Periodic", "Upkeep"]
