"""R-LED-1: a Hypothesis state machine over grants, holds and settlement, on SQLite.

The model is a few integers and a dict of open holds; after every step the database
must agree with it and `check_ledger` must be clean, across crash-restarts (the
store is closed and re-opened on the same file).

Every example runs on one SQLAlchemy engine over one file path (the file is replaced
by a fresh copy of the template between examples, with no connection open), so each
statement is compiled once for the whole run instead of once per example and restart.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select

from tokenward.auth import create_account, get_account
from tokenward.clock import FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.errors import InsufficientCredit
from tokenward.ledger.check import check_ledger
from tokenward.ledger.credits import (
    UsageCharge,
    balances,
    grant,
    post_usage_charges,
    release,
    reserve_credit,
    sweep_expired,
)
from tokenward.ledger.double_entry import balance
from tokenward.money import from_micros
from tokenward.storage import Store, migrate
from tokenward.storage.tables_ledger import ledger_transactions

START = datetime.fromisoformat("2026-03-01T00:00:00+00:00")


@dataclass(frozen=True)
class Request:
    request_id: str
    hold_id: str
    amount: int
    expires_at: datetime


class LedgerMachine(RuleBasedStateMachine):
    """One prepaid account in USD, against a model of what its ledger must say."""

    template: Path  # a migrated database with the account, copied per example
    engine: Engine  # on the file `path`, shared by every example (see the module doc)
    path: Path

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.engine.dispose()  # no connection is open on the file while it is replaced
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        for suffix in ("", "-wal"):  # the WAL is normally checkpointed away on close
            source = self.template.with_name(self.template.name + suffix)
            if source.exists():
                shutil.copy(source, self.path.with_name(self.path.name + suffix))
        self.store = Store(self.engine)
        self.clock = FakeClock(START)
        self.account = ""
        self.available = 0
        self.granted = 0
        self.spent = 0
        self.open: dict[str, Request] = {}  # hold id -> request
        self.settled: dict[str, UsageCharge] = {}  # request id -> its charge
        self.usage_txs = 0
        self.counter = 0

    @initialize()
    def find_account(self) -> None:
        self.account = get_account(self.store, "acme").id

    @rule(cents=st.integers(1, 50))
    def grant(self, cents: int) -> None:
        grant(self.store, self.account, f"{cents / 100:.2f}", "USD", clock=self.clock, actor="t")
        self.available += cents * 10_000
        self.granted += cents * 10_000

    @rule(
        target=requests,
        amount=st.integers(0, 300_000),
        lease_s=st.integers(5, 120),
        overdraft=st.sampled_from([0, 0, 50_000]),
    )
    def reserve(self, amount: int, lease_s: int, overdraft: int) -> Request | None:
        self.counter += 1
        request_id = f"req-{self.counter}"
        try:
            hold = reserve_credit(
                self.store,
                account_id=self.account,
                request_id=request_id,
                amount=amount,
                currency="USD",
                at=self.clock.now(),
                lease_s=lease_s,
                overdraft=overdraft,
            )
        except InsufficientCredit:
            assert self.available - amount < -overdraft
            return None  # nothing to settle; later rules skip None
        assert self.available - amount >= -overdraft
        self.available -= amount
        request = Request(request_id, hold.id, amount, hold.expires_at)
        self.open[hold.id] = request
        return request

    def _settle(self, request: Request, cost: int) -> None:
        charge = UsageCharge(
            request.request_id,
            self.account,
            "USD",
            cost,
            "prepaid",
            request.hold_id,
            self.clock.now(),
            {"model": "sim-small"},
        )
        with self.store.transaction(write=True) as conn:
            post_usage_charges(conn, [charge])
        if request.request_id in self.settled:
            return  # a replay: nothing changes
        self.settled[request.request_id] = charge
        held = self.open.pop(request.hold_id).amount if request.hold_id in self.open else 0
        self.available += held - cost
        self.spent += cost
        self.usage_txs += 1 if (cost or held) else 0

    @rule(request=requests, share=st.integers(0, 100))
    def settle_within_hold(self, request: Request | None, share: int) -> None:
        if request is not None:
            self._settle(request, request.amount * share // 100)

    @rule(request=requests, extra=st.integers(1, 100_000))
    def settle_above_hold(self, request: Request | None, extra: int) -> None:
        if request is not None:
            self._settle(request, request.amount + extra)

    @rule(request=requests)
    def release(self, request: Request | None) -> None:
        if request is None:
            return
        released = release(self.store, request.hold_id, at=self.clock.now())
        assert released == (request.hold_id in self.open)
        if released:
            self.available += self.open.pop(request.hold_id).amount

    @rule(seconds=st.integers(1, 200))
    def expire(self, seconds: int) -> None:
        self.clock.advance(seconds)
        now = self.clock.now()
        due = [h for h, r in self.open.items() if r.expires_at <= now]
        assert sweep_expired(self.store, self.clock) == len(due)
        for hold_id in due:
            self.available += self.open.pop(hold_id).amount

    @precondition(lambda self: bool(self.settled))
    @rule(data=st.data())
    def replay_a_settle(self, data: st.DataObject) -> None:
        charge = data.draw(st.sampled_from(sorted(self.settled.values(), key=str)))
        with self.store.transaction(write=True) as conn:
            post_usage_charges(conn, [charge])

    @rule()
    def crash_restart(self) -> None:
        self.store.close()  # every connection closed; the engine's pool starts afresh
        self.store = Store(self.engine)  # and opens new connections on the same file

    @invariant()
    def ledger_is_consistent(self) -> None:
        if not self.account:
            return
        report = check_ledger(self.store)
        assert report.ok, report.problems
        assert report.open_holds == len(self.open)
        # and the balances match the model
        found = balances(self.store, self.account)
        reserved = sum(r.amount for r in self.open.values())
        if not found:
            assert self.available == self.granted == reserved == 0
            return
        [usd] = found
        assert usd.available == from_micros(self.available)
        assert usd.reserved == from_micros(reserved) and usd.reserved >= 0
        assert usd.granted == from_micros(self.granted)
        assert usd.spent == from_micros(self.spent)
        with self.store.transaction() as conn:
            assert balance(conn, "revenue:usage:USD") == self.spent
            usage = conn.execute(
                select(func.count()).where(ledger_transactions.c.kind == "usage")
            ).scalar_one()
        assert usage == self.usage_txs  # one per settled request, replays included

    def teardown(self) -> None:
        self.store.close()


def test_ledger_state_machine(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{template}"))
    migrate(store)
    create_account(store, "acme", "prepaid", clock=FakeClock(START))
    store.close()
    LedgerMachine.template = template
    LedgerMachine.path = tmp_path / "ledger.db"
    LedgerMachine.engine = Store.connect(
        DatabaseSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}")
    ).engine
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=35, stateful_step_count=30, derandomize=True, deadline=None
            ),
        )
    finally:
        LedgerMachine.engine.dispose()
