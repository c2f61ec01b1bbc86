"""`EventWriter`: group commit of usage events, durable before `record()` returns.

The gateway awaits `record()` before it sends a response's last bytes, so a client
that saw a complete response always has its event committed, even across `kill -9`.
One background task takes everything queued (up to `batch_max`) and writes it in
one transaction on one dedicated thread. While that thread commits, new events queue
up and form the next batch: under load batches grow by themselves, and at low load
an event waits for one small commit only (no timer).

Idempotency is the database's: INSERT ... ON CONFLICT (request_id) DO NOTHING. An
event whose request id is already stored is compared with the stored one: the same
billed numbers make a `DUPLICATE` (a replay, a no-op); different numbers make a
`CONFLICT`, logged, and the first event stays (never a second row).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from tokenward.errors import StoreError
from tokenward.ledger.model import UsageEvent
from tokenward.storage.db import Store, describe
from tokenward.storage.repos.event_sink import EventSink, PostCharges

if TYPE_CHECKING:
    from tokenward.ledger.credits import UsageCharge

log = logging.getLogger(__name__)


class RecordOutcome(StrEnum):
    """What `record()` did with an event."""

    INSERTED = "inserted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(slots=True)
class WriterStats:
    """Counters for metrics and tests: how well group commit is batching."""

    batches: int = 0
    events: int = 0
    largest_batch: int = 0
    failed_batches: int = 0


_Pending = tuple[UsageEvent, "UsageCharge | None", "asyncio.Future[RecordOutcome]"]


class EventWriter:
    """Batched, crash-safe writer of usage events.

    >>> writer = EventWriter(store, batch_max=512)
    >>> writer.start()                      # inside the running event loop
    >>> outcome = await writer.record(event)  # returns once committed
    >>> await writer.aclose()               # flushes what is queued, then stops
    """

    def __init__(
        self, store: Store, batch_max: int = 512, post_charges: PostCharges | None = None
    ) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be >= 1")
        self._store = store
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._sink = EventSink(store, post_charges)
        self.stats = WriterStats()

    @property
    def running(self) -> bool:
        """Whether the writer accepts and writes events."""
        return self._task is not None and not self._task.done() and not self._closing

    def start(self) -> None:
        """Start the background task; call from inside the running event loop."""
        if self._task is not None:
            raise RuntimeError("EventWriter.start() called twice")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenward-ledger")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-writer")

    async def record(self, event: UsageEvent, charge: UsageCharge | None = None) -> RecordOutcome:
        """Queue `event` and wait until the transaction holding it has committed.

        `charge` is the ledger posting of the event's cost; it is written in the same
        transaction, and only if the event is new (a replay posts nothing).

        Raises `StoreError` when the writer is not running or the store failed; then the
        event was almost surely not written, and recording it again is safe (idempotent).
        If the caller is cancelled, the event is still written.
        """
        if not self.running:
            raise StoreError("the usage event writer is not running")
        future: asyncio.Future[RecordOutcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, charge, future))
        # shield: a cancelled caller must not cancel the write, only stop waiting for it
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Write everything already queued, then stop. Safe to call twice."""
        if self._task is None or self._closing:
            return
        self._closing = True
        self._queue.put_nowait(None)
        await self._task
        if self._executor is not None:
            # the sink's connection belongs to the writer thread: close it there
            await asyncio.get_running_loop().run_in_executor(self._executor, self._sink.close)
            self._executor.shutdown(wait=False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        batch: list[_Pending] = []
        try:
            while not stopping:
                item = await self._queue.get()
                batch = []
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    if len(batch) >= self._batch_max or self._queue.empty():
                        break
                    item = self._queue.get_nowait()
                if batch:
                    await self._flush(loop, batch)
        finally:
            # reached early only if the task is cancelled: nobody may wait forever
            self._closing = True
            left = [pending for pending in batch if not pending[2].done()]
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    left.append(item)
            if left:
                self._fail(left, StoreError("the usage event writer stopped; retry"))

    async def _flush(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        events = [event for event, _, _ in batch]
        charges = [charge for _, charge, _ in batch]
        try:
            outcomes = await loop.run_in_executor(self._executor, self._write, events, charges)
        except StoreError as exc:
            self._fail(batch, exc)
            return
        except Exception as exc:  # one bad batch must not stop the writer (logged)
            log.exception("usage event batch of %d failed", len(batch))
            self._fail(batch, StoreError(f"usage events not written: {describe(exc)}"))
            return
        self.stats.batches += 1
        self.stats.events += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    def _fail(self, batch: list[_Pending], exc: StoreError) -> None:
        self.stats.failed_batches += 1
        log.error("usage event batch of %d not written: %s", len(batch), exc)
        for _, _, future in batch:
            if not future.done():
                future.set_exception(exc)
                # the waiting caller may have gone; do not warn about an unread exception
                future.exception()

    def _write(
        self, events: list[UsageEvent], charges: list[UsageCharge | None]
    ) -> list[RecordOutcome]:
        """Runs on the writer thread: one transaction, then classify what was blocked."""
        stored = self._sink.insert_batch(events, charges)
        outcomes: list[RecordOutcome] = []
        for event, existing in zip(events, stored, strict=True):
            if existing is None:
                outcomes.append(RecordOutcome.INSERTED)
            elif same_billing(event, existing):
                outcomes.append(RecordOutcome.DUPLICATE)
            else:
                log.warning(
                    "usage event conflict for request %s: stored %s, replay %s; kept the stored",
                    event.request_id,
                    existing.usage,
                    event.usage,
                )
                outcomes.append(RecordOutcome.CONFLICT)
        return outcomes


def same_billing(a: UsageEvent, b: UsageEvent) -> bool:
    """Whether two events of one request id bill the same (timings may differ)."""
    return (
        a.account_id == b.account_id
        and a.key_id == b.key_id
        and a.model == b.model
        and a.usage == b.usage
        and a.cost == b.cost
        and a.currency == b.currency
    )


__all__ = ["EventWriter", "RecordOutcome", "WriterStats", "same_billing"]
