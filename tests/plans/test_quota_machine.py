"""R-LIM-7: the quota engine against a plain reference model, step by step.

Hypothesis drives random sequences of (advance time, request a model with a token
estimate, commit with the actual usage, release) against `QuotaEngine` on the
in-process limiter with a `FakeClock`, and against `Reference`: a few lists and
dicts written from the rules' definitions alone (sliding: entries younger than the
window count; session: from the first admitted request for `window` seconds;
weights: 2.5 for big-* models, 3x from 14:00 to 18:00 Shanghai). Sliding and
session rules, requests and tokens, are mixed in one plan; both sides must agree
on every admit or deny, on the refusing quota and its exact Retry-After, and on
every quota's usage after every step.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from tokenward.clock import FakeClock
from tokenward.limits import MemoryLimiter
from tokenward.plans.quota import QuotaEngine, QuotaExceeded, QuotaHold, QuotaPlan
from tokenward.plans.quota_rules import QuotaRule, parse_quota, parse_weights

#: 13:56 in Shanghai: peak hours begin 4 minutes into a run
START = datetime(2026, 1, 1, 5, 56, tzinfo=UTC)
RULES = (
    parse_quota({"window": 60, "unit": "requests", "limit": 5}),
    parse_quota({"window": 100, "kind": "session", "unit": "tokens", "limit": 1000}),
    parse_quota({"window": 300, "unit": "tokens", "limit": 2500}),
    parse_quota({"window": 200, "kind": "session", "unit": "requests", "limit": 8}),
)
WEIGHTS = parse_weights(
    {
        "models": {"big-*": "2.5"},
        "times": [
            {"start": "14:00", "end": "18:00", "timezone": "Asia/Shanghai", "multiplier": "3"}
        ],
    }
)
PLAN = QuotaPlan("sub_m", "pro", RULES, WEIGHTS)


def reference_weight(model: str, at: datetime) -> Decimal:
    base = Decimal("2.5") if model.startswith("big-") else Decimal(1)
    return base * 3 if 6 <= at.hour < 10 else base  # 14:00-18:00 in UTC+8


@dataclass
class RefQuota:
    """One rule: sliding entries [t, amount, id], or a session (start, used, token entries)."""

    rule: QuotaRule
    entries: list[list[Any]] = field(default_factory=list)
    start: int | None = None
    used_in_session: int = 0
    session_entries: dict[int, int] = field(default_factory=dict)

    def current(self, now: int) -> bool:
        return self.start is not None and now < self.start + self.rule.window_s

    def used(self, now: int) -> int:
        if self.rule.kind == "session":
            return self.used_in_session if self.current(now) else 0
        return sum(a for t, a, _ in self.entries if now - t < self.rule.window_s)

    def wait(self, amount: int, now: int) -> tuple[bool, int]:
        """(never fits, seconds until it fits; 0 = fits now)."""
        if amount > self.rule.limit:
            return True, self.rule.window_s
        over = self.used(now) + amount - self.rule.limit
        if over <= 0:
            return False, 0
        if self.rule.kind == "session":
            assert self.start is not None
            return False, self.start + self.rule.window_s - now
        freed = 0
        for t, a, _ in self.entries:
            if now - t < self.rule.window_s:
                freed += a
                if freed >= over:
                    return False, t + self.rule.window_s - now
        raise AssertionError("unreachable")

    def add(self, rid: int, amount: int, now: int) -> None:
        if self.rule.kind == "sliding":
            self.entries.append([now, amount, rid])
            return
        if not self.current(now):
            self.start, self.used_in_session, self.session_entries = now, 0, {}
        self.used_in_session += amount
        if self.rule.unit == "tokens":
            self.session_entries[rid] = amount

    def settle(self, rid: int, actual: int | None, now: int) -> None:
        if self.rule.unit != "tokens":
            return
        if self.rule.kind == "sliding":
            for entry in self.entries:
                if entry[2] == rid:
                    if actual is None:
                        self.entries.remove(entry)
                    else:
                        entry[1] = actual
                    return
            return
        if self.current(now) and rid in self.session_entries:
            old = self.session_entries.pop(rid)
            self.used_in_session += (actual or 0) - old
            if actual is not None:
                self.session_entries[rid] = actual


@dataclass
class Reference:
    quotas: list[RefQuota]
    now: int = 0
    weights: dict[int, Decimal] = field(default_factory=dict)

    def amounts(self, weight: Decimal, estimate: int) -> list[int]:
        requests, tokens = math.ceil(weight), math.ceil(estimate * weight)
        return [requests if q.rule.unit == "requests" else tokens for q in self.quotas]

    def admit(self, rid: int, model: str, estimate: int) -> tuple[QuotaRule, float] | None:
        """None when admitted, else (the refusing rule, retry after)."""
        weight = reference_weight(model, START + timedelta(seconds=self.now))
        amounts = self.amounts(weight, estimate)
        waits = [q.wait(a, self.now) for q, a in zip(self.quotas, amounts, strict=True)]
        refusing = [(w, q.rule) for w, q in zip(waits, self.quotas, strict=True) if w[0] or w[1]]
        if refusing:
            (_, seconds), worst = max(refusing, key=lambda r: r[0])
            return worst, seconds
        for q, a in zip(self.quotas, amounts, strict=True):
            q.add(rid, a, self.now)
        self.weights[rid] = weight
        return None

    def settle(self, rid: int, actual: int | None) -> None:
        tokens = None if actual is None else math.ceil(actual * self.weights[rid])
        for q in self.quotas:
            q.settle(rid, tokens, self.now)

    def used(self) -> list[int]:
        return [q.used(self.now) for q in self.quotas]


class QuotaMachine(RuleBasedStateMachine):
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        # leases outlive any run (30 steps of at most 150 s), as the reference has none
        self.engine = QuotaEngine(MemoryLimiter(self.clock, lease_seconds=86_400))
        self.reference = Reference([RefQuota(r) for r in RULES])
        self.loop = asyncio.new_event_loop()
        self.next_id = 0

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @rule(seconds=st.sampled_from([0, 1, 7, 30, 60, 61, 100, 150]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.reference.now += seconds

    @rule(
        target=holds,
        model=st.sampled_from(["small", "big-1"]),
        estimate=st.one_of(st.integers(0, 150), st.integers(0, 1200)),
    )
    def request(self, model: str, estimate: int) -> Any:
        self.next_id += 1
        rid = self.next_id
        expected = self.reference.admit(rid, model, estimate)
        try:
            hold = self.run(self.engine.admit(PLAN, f"r{rid}", model, self.clock.now(), estimate))
        except QuotaExceeded as refused:
            assert expected is not None, "engine refused what the reference admits"
            worst, seconds = expected
            assert refused.quota == worst.describe()
            assert refused.retry_after == seconds
            return multiple()
        assert expected is None, f"engine admitted what the reference refuses: {expected}"
        return (hold, rid)

    @rule(held=consumes(holds), actual=st.integers(0, 1200))
    def commit(self, held: tuple[QuotaHold, int], actual: int) -> None:
        hold, rid = held
        self.run(self.engine.commit(hold, actual))
        self.reference.settle(rid, actual)

    @rule(held=consumes(holds))
    def release(self, held: tuple[QuotaHold, int]) -> None:
        hold, rid = held
        self.run(self.engine.release(hold))
        self.reference.settle(rid, None)

    @invariant()
    def same_usage(self) -> None:
        rows = self.run(self.engine.peek(PLAN))
        assert [r["used"] for r in rows] == self.reference.used()


QuotaMachine.TestCase.settings = settings(
    derandomize=True,
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQuotaMachine = QuotaMachine.TestCase
