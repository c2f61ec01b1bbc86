"""The chain on both databases: appends verify, and every kind of tampering is named."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from tokenward.audit import GENESIS_HASH, AuditLog, AuditRecord, record_hash
from tokenward.clock import FakeClock
from tokenward.storage import Store
from tokenward.storage.repos import audit as audit_repo
from tokenward.storage.tables import audit_log

ACTIONS = ("key.create", "key.revoke", "account.create", "policy.update", "guard.block")


def fill(log: AuditLog, clock: FakeClock, n: int = 100) -> list[AuditRecord]:
    records = []
    for i in range(n):
        clock.advance(seconds=0.25)
        details = {"i": i, "findings": [{"type": "email", "location": f"messages[{i}]"}]}
        records.append(log.append("cli", ACTIONS[i % len(ACTIONS)], f"target_{i}", details))
    return records


def tamper(store: Store, which: int, /, **values: Any) -> None:
    """Change record `which` behind the log's back, as someone with database access could."""
    with store.transaction() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == which).values(**values))


def test_a_hundred_appends_form_one_verifiable_chain(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    records = fill(log, clock)
    assert [r.seq for r in records] == list(range(1, 101))
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    result = log.verify()
    assert result.ok and result.checked == 100
    assert (result.first_bad, result.problem) == (None, None)
    assert (result.head_seq, result.head_hash) == (100, records[-1].hash)
    assert "100 records" in result.describe()
    # what is read back is what was appended, timestamps included
    assert log.records(limit=1000) == records
    assert log.count() == 100


def test_an_empty_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.checked == 0 and result.head_seq is None
    assert result.describe() == "audit log is empty"


@pytest.mark.parametrize(
    "change",
    [
        {"details": json.dumps({"i": 36, "findings": []})},
        {"actor": "mallory"},
        {"action": "key.create"},
        {"target": "someone_else"},
        {"id": "aud_forged"},
        {"hash": "0" * 64},
    ],
    ids=lambda c: next(iter(c)),
)
def test_editing_one_record_names_exactly_that_record(
    log: AuditLog, clock: FakeClock, store: Store, change: dict[str, Any]
) -> None:
    records = fill(log, clock)
    tamper(store, 37, **change)
    result = log.verify()
    assert not result.ok
    assert (result.first_bad, result.first_bad_id) == (37, change.get("id", records[36].id))
    assert result.checked == 36
    assert result.problem is not None and result.problem.startswith("hash mismatch")
    assert (result.head_seq, result.head_hash) == (36, records[35].hash)
    assert "seq 37" in result.describe() and "\n" not in result.describe()


def test_moving_a_timestamp_by_one_microsecond_is_caught(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    records = fill(log, clock, 20)
    tamper(store, 5, at=records[4].at + timedelta(microseconds=1))
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 5)
    assert result.problem is not None and "hash mismatch" in result.problem


def test_unparseable_details_are_a_hash_mismatch_and_still_listed(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    fill(log, clock, 10)
    tamper(store, 10, details="{not json")
    result = log.verify()
    assert (result.first_bad, result.checked) == (10, 9)
    assert result.problem is not None and "not a JSON object" in result.problem
    assert log.tail(1)[0].details == {"unparseable": "{not json"}


def test_rehashing_an_edited_record_breaks_the_next_link(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    """A forger who recomputes the edited record's hash is caught one record later."""
    records = fill(log, clock, 20)
    forged = records[9]
    new_hash = record_hash(
        seq=forged.seq,
        id=forged.id,
        at=forged.at,
        actor="mallory",
        action=forged.action,
        target=forged.target,
        details=forged.details,
        prev_hash=forged.prev_hash,
    )
    tamper(store, 10, actor="mallory", hash=new_hash)
    result = log.verify()
    assert result.first_bad == 11
    assert result.problem is not None and result.problem.startswith("broken link")
    assert "seq 10" in result.problem


def test_deleting_a_middle_record_is_a_gap(log: AuditLog, clock: FakeClock, store: Store) -> None:
    records = fill(log, clock, 30)
    with store.transaction() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq.in_([15, 16])))
    result = log.verify()
    assert (result.ok, result.first_bad, result.first_bad_id) == (False, 17, records[16].id)
    assert result.problem == "gap: seq 15 to 16 missing before this record (deleted or renumbered)"
    assert result.checked == 14


def test_deleting_and_renumbering_is_a_broken_link(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    fill(log, clock, 30)
    with store.transaction() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 15))
    for seq in range(16, 31):  # close the gap, as a careful intruder would
        tamper(store, seq, seq=seq - 1)
    result = log.verify()
    assert result.first_bad == 15
    assert result.problem is not None and result.problem.startswith("broken link")


def test_deleting_the_first_record_is_a_gap(log: AuditLog, clock: FakeClock, store: Store) -> None:
    fill(log, clock, 5)
    with store.transaction() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 1))
    result = log.verify()
    assert (result.first_bad, result.checked, result.head_seq) == (2, 0, None)
    assert result.problem is not None and result.problem.startswith("gap: seq 1 missing")


def test_swapping_two_records_is_caught_at_the_first_of_them(
    log: AuditLog, clock: FakeClock, store: Store
) -> None:
    records = fill(log, clock, 30)
    tamper(store, 10, seq=10_000)  # through a free seq: the primary key forbids a direct swap
    tamper(store, 11, seq=10)
    tamper(store, 10_000, seq=11)
    result = log.verify()
    assert (result.first_bad, result.first_bad_id) == (10, records[10].id)
    assert result.problem is not None and result.problem.startswith("broken link")


def test_the_tail_and_pages_read_in_seq_order(log: AuditLog, clock: FakeClock) -> None:
    records = fill(log, clock, 25)
    assert log.tail(3) == records[-3:]
    assert log.records(limit=4, after=10) == records[10:14]
    assert log.records(limit=4, after=25) == []
    assert log.tail(1)[0].as_dict()["at"].endswith("Z")


def test_secrets_and_malformed_records_are_refused_before_writing(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="secret"):
        log.append("cli", "key.create", "acme", {"key": "AKIAIOSFODNN7EXAMPLE"})
    with pytest.raises(ValueError, match="secret"):
        log.append("cli", "key.create", "tw-" + "a1B2c3D4e5" * 4)
    with pytest.raises(ValueError, match="raw content"):
        log.append("system", "guard.redact", "req_1", {"findings": [{"text": "a@b.cn"}]})
    with pytest.raises(ValueError, match="action"):
        log.append("cli", "KeyCreate", "acme")
    with pytest.raises(ValueError, match="actor"):
        log.append("", "key.create", "acme")
    assert log.count() == 0 and log.verify().ok


def test_a_naive_clock_is_refused(store: Store) -> None:
    class NaiveClock(FakeClock):
        def now(self) -> Any:
            return super().now().replace(tzinfo=None)

    with pytest.raises(ValueError, match="timezone-aware"):
        AuditLog(store, NaiveClock()).append("cli", "key.create", "x")
    assert AuditLog(store, FakeClock()).count() == 0


@pytest.mark.anyio
async def test_concurrent_async_appends_form_one_chain(log: AuditLog) -> None:
    done = await asyncio.gather(
        *(log.append_async("system", "guard.block", f"req_{i}", {"n": i}) for i in range(20))
    )
    assert sorted(r.seq for r in done) == list(range(1, 21))
    assert log.verify().ok


def test_the_repo_has_no_way_to_change_a_record() -> None:
    """Append-only by construction: the only SQL module for the table cannot update or delete."""
    names = {n.lower() for n in audit_repo.__all__}
    assert not any(word in n for n in names for word in ("update", "delete", "remove", "set"))
    source = Path(audit_repo.__file__).read_text(encoding="utf-8")
    assert "update(" not in source and "delete(" not in source
