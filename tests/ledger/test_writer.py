"""EventWriter on SQLite and PostgreSQL: idempotency, group commit, failures, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tests.ledger.events import make_event
from tokenward.errors import StoreError
from tokenward.ledger import EventWriter, RecordOutcome
from tokenward.metering.usage import Usage
from tokenward.storage import Store, count_events, events_by_request_ids

pytestmark = pytest.mark.anyio


@pytest.fixture
async def writer(store: Store) -> AsyncIterator[EventWriter]:
    w = EventWriter(store, batch_max=512)
    w.start()
    try:
        yield w
    finally:
        await w.aclose()


async def test_an_event_is_stored_once_and_reads_back_equal(
    store: Store, writer: EventWriter
) -> None:
    event = make_event("req-1")
    assert await writer.record(event) is RecordOutcome.INSERTED
    assert events_by_request_ids(store, ["req-1", "req-missing"]) == [event]


async def test_a_replay_is_a_duplicate_and_writes_no_second_row(
    store: Store, writer: EventWriter
) -> None:
    event = make_event("req-1")
    assert await writer.record(event) is RecordOutcome.INSERTED
    assert await writer.record(event) is RecordOutcome.DUPLICATE
    # a retry measures other timings but bills the same: still a duplicate
    later = dataclasses.replace(event, latency_ms=99.0, http_status=200)
    assert await writer.record(later) is RecordOutcome.DUPLICATE
    assert count_events(store) == 1


async def test_a_replay_with_other_numbers_is_a_conflict_and_the_first_stays(
    store: Store, writer: EventWriter, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_event("req-1", output_tokens=5)
    assert await writer.record(first) is RecordOutcome.INSERTED
    other = dataclasses.replace(first, usage=Usage(input_tokens=10, output_tokens=6))
    with caplog.at_level(logging.WARNING, logger="tokenward.ledger.writer"):
        assert await writer.record(other) is RecordOutcome.CONFLICT
    assert "conflict" in caplog.text and "req-1" in caplog.text
    assert events_by_request_ids(store, ["req-1"]) == [first]
    assert count_events(store) == 1


async def test_copies_of_one_request_in_one_batch_insert_once(
    store: Store, writer: EventWriter
) -> None:
    event = make_event("req-same")
    other = make_event("req-same", output_tokens=50)
    outcomes = await asyncio.gather(*(writer.record(e) for e in (event, event, other)))
    assert outcomes == [RecordOutcome.INSERTED, RecordOutcome.DUPLICATE, RecordOutcome.CONFLICT]
    assert count_events(store) == 1


async def test_2000_concurrent_records_all_commit_in_batches(
    store: Store, writer: EventWriter
) -> None:
    events = [make_event(f"req-{i:05d}", output_tokens=i) for i in range(2000)]
    outcomes = await asyncio.gather(*(writer.record(e) for e in events))
    assert set(outcomes) == {RecordOutcome.INSERTED}
    assert count_events(store) == 2000
    assert writer.stats.events == 2000
    assert writer.stats.largest_batch > 1
    assert writer.stats.batches < 2000
    stored = events_by_request_ids(store, [e.request_id for e in events])
    assert sum(e.usage.output_tokens for e in stored) == sum(range(2000))


async def test_a_store_failure_fails_the_batch_but_not_the_writer(
    store: Store, writer: EventWriter
) -> None:
    with store.transaction() as conn:
        conn.execute(text("ALTER TABLE usage_events RENAME TO usage_events_away"))
    with pytest.raises(StoreError, match="database error"):
        await writer.record(make_event("req-lost"))
    with store.transaction() as conn:
        conn.execute(text("ALTER TABLE usage_events_away RENAME TO usage_events"))
    assert writer.running
    assert await writer.record(make_event("req-after")) is RecordOutcome.INSERTED
    assert writer.stats.failed_batches == 1
    assert [e.request_id for e in events_by_request_ids(store, ["req-lost", "req-after"])] == [
        "req-after"
    ]


async def test_a_closed_store_raises_store_error_and_the_writer_keeps_running(
    store: Store,
) -> None:
    writer = EventWriter(store, batch_max=8)
    writer.start()
    store.close()
    for i in range(3):
        with pytest.raises(StoreError, match="closed"):
            await writer.record(make_event(f"req-{i}"))
    assert writer.running
    await writer.aclose()
    assert not writer.running


async def test_aclose_flushes_everything_queued(store: Store) -> None:
    writer = EventWriter(store, batch_max=16)
    writer.start()
    tasks = [asyncio.ensure_future(writer.record(make_event(f"req-{i}"))) for i in range(100)]
    await asyncio.sleep(0)  # every record() has queued its event
    await writer.aclose()
    assert count_events(store) == 100  # committed before aclose() returned
    assert await asyncio.gather(*tasks) == [RecordOutcome.INSERTED] * 100
    with pytest.raises(StoreError, match="not running"):
        await writer.record(make_event("req-late"))
    await writer.aclose()  # twice is fine


async def test_a_cancelled_caller_still_gets_its_event_written(store: Store) -> None:
    writer = EventWriter(store)
    writer.start()
    task = asyncio.ensure_future(writer.record(make_event("req-cancelled")))
    await asyncio.sleep(0)
    task.cancel()
    await writer.aclose()
    assert task.cancelled()
    assert count_events(store) == 1


async def test_record_before_start_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="not running"):
        await EventWriter(store).record(make_event("req-1"))
