"""The append-only, hash-chained audit log: `AuditLog.append()` and `AuditLog.verify()`.

Each record carries the hash of the one before it (`prev_hash`) and its own hash
over a canonical encoding (`audit.encoding`), so editing, deleting or reordering a
stored record breaks the chain at that record, and `verify()` names it.

What the chain cannot show on its own: the newest records being cut off (the
shorter chain is still valid) or the whole tail being rewritten by someone who
recomputes every hash. `verify()` therefore reports the head (`head_seq`,
`head_hash`); keeping that value outside the database (a ticket, a log shipper)
is what makes the tail checkable too.

    >>> log = AuditLog(store, SystemClock())
    >>> log.append("cli", "key.create", "key_1a2b", {"account": "acme"}).seq
    1
    >>> log.verify().ok
    True
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokenward.audit.details import GuardSecretCheck, SecretCheck, check_text, clean_details
from tokenward.audit.encoding import GENESIS_HASH, canonical_json, format_at, record_hash
from tokenward.clock import Clock
from tokenward.storage.db import Store
from tokenward.storage.repos import audit as audit_repo
from tokenward.storage.repos.audit import AuditRow

#: records read per transaction by `verify()`; bounded memory on any log size
PAGE_SIZE = 1000
#: actions are dotted lower-case names: "key.create", "guard.block", "policy.update"
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One link of the chain. `details` is a JSON object without secrets."""

    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    target: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with `at` in the same spelling the hash uses."""
        return {
            "seq": self.seq,
            "id": self.id,
            "at": format_at(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain.

    `checked` counts the intact records before the first bad one (all of them when
    `ok`). `first_bad` is that record's seq (for a gap: the first record after it)
    and `problem` says what is wrong. `head_seq` / `head_hash` are the last intact
    record, the value to keep elsewhere to detect a truncated tail.
    """

    ok: bool
    checked: int
    first_bad: int | None = None
    first_bad_id: str | None = None
    problem: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def describe(self) -> str:
        """One line for people: what was checked, or which record is broken and why."""
        if self.ok:
            if self.head_seq is None:
                return "audit log is empty"
            return (
                f"audit chain intact: {self.checked} records, "
                f"head seq {self.head_seq} ({self.head_hash})"
            )
        return (
            f"audit record seq {self.first_bad} (id {self.first_bad_id}) is broken: {self.problem}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad": self.first_bad,
            "first_bad_id": self.first_bad_id,
            "problem": self.problem,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
        }


class AuditLog:
    """Appends records to the chain and verifies it; the only writer of `audit_log`.

    `append()` is synchronous (CLI, admin services); the gateway uses
    `append_async()`, which runs it in a worker thread. Concurrent appenders, in
    this process or others, are serialised by the database (see
    `storage.repos.audit`), so they always extend one chain.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        secret_check: SecretCheck | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._store = store
        self._clock = clock
        self._secret_check = secret_check or GuardSecretCheck()
        self._page_size = page_size

    def append(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Write the next record and return it.

        `actor` is a principal id, "cli" or "system"; `action` a dotted name such as
        "key.revoke" or "guard.block"; `target` what was acted on (may be empty).
        Raises `ValueError` / `TypeError` for details that are not JSON or look like
        a secret (see `audit.details`), `StoreError` when the database fails.
        """
        if not actor or not actor.isprintable():
            raise ValueError(f"audit actor must be a non-empty printable string: {actor!r}")
        if not _ACTION.fullmatch(action):
            raise ValueError(f"audit action must be a dotted lower-case name: {action!r}")
        if not target.isprintable():
            raise ValueError(f"audit target must be printable: {target!r}")
        check_text("actor", actor, self._secret_check)
        check_text("target", target, self._secret_check)
        clean = clean_details(details, self._secret_check)
        details_text = canonical_json(clean)
        record_id = "aud_" + secrets.token_hex(12)
        with self._store.transaction(write=True) as conn:
            audit_repo.lock_chain(conn)
            last = audit_repo.head(conn)
            seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
            # read under the lock, so timestamps follow seq order when the clock does
            at = self._clock.now()
            digest = record_hash(
                seq=seq,
                id=record_id,
                at=at,
                actor=actor,
                action=action,
                target=target,
                details=clean,
                prev_hash=prev_hash,
            )
            row = AuditRow(
                seq, record_id, at, actor, action, target, details_text, prev_hash, digest
            )
            audit_repo.insert_record(conn, row)
        return AuditRecord(seq, record_id, at, actor, action, target, clean, prev_hash, digest)

    async def append_async(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """`append()` in a worker thread, so the event loop never waits on the lock."""
        return await asyncio.to_thread(self.append, actor, action, target, details)

    def verify(self) -> VerifyResult:
        """Walk the chain in seq order, one page per transaction, to the first bad record.

        Each record must have the next seq (else: gap), link to the previous
        record's hash (else: broken link), and hash to its stored hash (else: hash
        mismatch, i.e. the record was changed after it was written).
        """
        checked, after, prev_hash = 0, 0, GENESIS_HASH
        while True:
            with self._store.transaction() as conn:
                page = audit_repo.rows_after(conn, after, self._page_size)
            if not page:
                break
            for row in page:
                problem = _problem(row, after + 1, prev_hash)
                if problem is not None:
                    return VerifyResult(
                        ok=False,
                        checked=checked,
                        first_bad=row.seq,
                        first_bad_id=row.id,
                        problem=problem,
                        head_seq=after or None,
                        head_hash=prev_hash if after else None,
                    )
                checked, after, prev_hash = checked + 1, row.seq, row.hash
        return VerifyResult(
            ok=True,
            checked=checked,
            head_seq=after or None,
            head_hash=prev_hash if after else None,
        )

    def records(self, limit: int = 100, after: int = 0) -> list[AuditRecord]:
        """Up to `limit` records with seq greater than `after`, oldest first."""
        with self._store.transaction() as conn:
            rows = audit_repo.rows_after(conn, after, limit)
        return [_record(r) for r in rows]

    def tail(self, limit: int = 100) -> list[AuditRecord]:
        """The newest `limit` records, oldest first."""
        with self._store.transaction() as conn:
            rows = audit_repo.last_rows(conn, limit)
        return [_record(r) for r in rows]

    def count(self) -> int:
        """How many records the log holds."""
        with self._store.transaction() as conn:
            return audit_repo.count_rows(conn)


def _problem(row: AuditRow, expected_seq: int, prev_hash: str) -> str | None:
    """What is wrong with `row` as the successor of `prev_hash`, or None."""
    if row.seq != expected_seq:
        missing = (
            f"seq {expected_seq}"
            if row.seq == expected_seq + 1
            else f"seq {expected_seq} to {row.seq - 1}"
        )
        return f"gap: {missing} missing before this record (deleted or renumbered)"
    if row.prev_hash != prev_hash:
        previous = "the genesis value" if expected_seq == 1 else f"seq {expected_seq - 1}'s hash"
        return (
            f"broken link: prev_hash {row.prev_hash[:16]} does not match "
            f"{previous} {prev_hash[:16]} (a record was removed, inserted or reordered)"
        )
    details = _parse_details(row.details)
    if details is None:
        return "hash mismatch: details are not a JSON object (the record was edited)"
    computed = record_hash(
        seq=row.seq,
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=details,
        prev_hash=row.prev_hash,
    )
    if computed != row.hash:
        return (
            f"hash mismatch: stored {row.hash[:16]}, computed {computed[:16]} "
            "(the record was edited after it was written)"
        )
    return None


def _parse_details(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _record(row: AuditRow) -> AuditRecord:
    details = _parse_details(row.details)
    # a tampered, unparseable row is still listed, so people can see what is there
    shown: Mapping[str, Any] = {"unparseable": row.details} if details is None else details
    return AuditRecord(
        row.seq,
        row.id,
        row.at,
        row.actor,
        row.action,
        row.target,
        shown,
        row.prev_hash,
        row.hash,
    )


__all__ = ["PAGE_SIZE", "AuditLog", "AuditRecord", "VerifyResult"]
