"""Upkeep: periodic money-path jobs run on threads and survive their own failures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenward.clock import Clock, FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.jobs import Periodic, Upkeep
from tokenward.storage import Store

pytestmark = pytest.mark.anyio


async def test_jobs_run_on_their_beat_and_a_failure_does_not_stop_them(tmp_path: Path) -> None:
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'x.db'}"))
    runs: list[str] = []

    def ok(_store: Store, _clock: Clock) -> None:
        runs.append("ok")

    def broken(_store: Store, _clock: Clock) -> None:
        runs.append("broken")
        raise RuntimeError("database went away")

    upkeep = Upkeep(store, FakeClock(), [Periodic("ok", ok, 0.01), Periodic("bad", broken, 0.01)])
    await upkeep.run_once()
    assert runs == ["ok", "broken"]
    upkeep.start()
    await asyncio.sleep(0.2)
    await upkeep.aclose()
    assert runs.count("ok") >= 3 and runs.count("broken") >= 3
    settled = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == settled  # stopped for good
    store.close()
