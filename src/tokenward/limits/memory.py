"""In-process limiter: the embedded default, and the reference the Redis backend must match.

Same sliding log as `lua/acquire.lua` (see `backend.py`), on plain dicts. Each
method runs to completion without awaiting, so on one event loop every call is
atomic, as a Lua script is in Redis. It is not thread-safe and not shared between
processes: with several workers or replicas, use `RedisLimiter`.

Time is the injected `Clock`'s wall time in integer microseconds, never allowed to
run backwards (a clock step back would otherwise reorder the log).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tokenward.clock import Clock, SystemClock
from tokenward.limits.backend import (
    DEFAULT_LEASE,
    TOO_LARGE,
    Outcome,
    build_decision,
    check_actual,
    check_lease,
    new_reservation_id,
)
from tokenward.limits.model import (
    US,
    Decision,
    LimitSpec,
    LimitState,
    Reservation,
    resolve_amounts,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class _Log:
    """Entries of one windowed limit, oldest first: reservation id -> [timestamp, amount]."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, list[int]] = OrderedDict()
        self.total = 0

    def purge(self, cutoff: int) -> None:
        """Drop entries at or before `cutoff` (= now - window)."""
        entries = self.entries
        while entries:
            rid, (ts, amount) = next(iter(entries.items()))
            if ts > cutoff:
                break
            del entries[rid]
            self.total -= amount

    def wait_us(self, need: int, now: int, window: int) -> int:
        """Time until the oldest entries free `need` units."""
        freed = 0
        for ts, amount in self.entries.values():
            freed += amount
            if freed >= need:  # pragma: no branch
                return ts + window - now
        raise AssertionError("log sum is larger than its entries")  # pragma: no cover

    def reset_us(self, now: int, window: int) -> int:
        if not self.entries:
            return 0
        return next(reversed(self.entries.values()))[0] + window - now


class _Session:
    """One session limit: when it started, its running sum, and token amounts per
    reservation (requests are never adjusted, so they keep no entries)."""

    __slots__ = ("entries", "start", "total")

    def __init__(self, start: int) -> None:
        self.start = start
        self.total = 0
        self.entries: dict[str, int] = {}


class _Slots:
    """Concurrency slots of one limit, in lease-expiry order: reservation id -> expiry."""

    __slots__ = ("expiry",)

    def __init__(self) -> None:
        self.expiry: OrderedDict[str, int] = OrderedDict()

    def purge(self, now: int) -> None:
        expiry = self.expiry
        while expiry:
            rid, at = next(iter(expiry.items()))
            if at > now:
                break
            del expiry[rid]

    def wait_us(self, need: int, now: int) -> int:
        for i, at in enumerate(self.expiry.values(), start=1):
            if i >= need:  # pragma: no branch
                return at - now
        raise AssertionError("fewer slots than counted")  # pragma: no cover

    def reset_us(self, now: int) -> int:
        """Until the last lease ends: the newest slot, as leases are kept in order."""
        return next(reversed(self.expiry.values())) - now if self.expiry else 0


class MemoryLimiter:
    """`LimiterBackend` for one process.

    >>> limiter = MemoryLimiter(FakeClock(), lease_seconds=30)  # doctest: +SKIP
    >>> decision = await limiter.acquire("req-1", [rpm], {"tokens": 900})  # doctest: +SKIP
    """

    def __init__(self, clock: Clock | None = None, *, lease_seconds: float = DEFAULT_LEASE) -> None:
        self._clock = clock or SystemClock()
        self._lease_us = check_lease(lease_seconds)
        self._logs: dict[str, _Log] = {}
        self._slots: dict[str, _Slots] = {}
        self._sessions: dict[str, _Session] = {}
        #: live leases, in expiry order (every lease has the same length)
        self._leases: OrderedDict[str, int] = OrderedDict()
        self._last_now = 0

    def _now(self) -> int:
        now = (self._clock.now() - _EPOCH) // _ONE_US
        self._last_now = max(self._last_now, now)
        return self._last_now

    def _purge_leases(self, now: int) -> None:
        leases = self._leases
        while leases:
            rid, at = next(iter(leases.items()))
            if at > now:
                break
            del leases[rid]

    def _session(self, spec: LimitSpec, now: int) -> _Session | None:
        """The current session of a limit; an ended one is dropped here."""
        session = self._sessions.get(spec.key)
        if session is not None and now >= session.start + (spec.window or 0) * US:
            del self._sessions[spec.key]
            return None
        return session

    def _look(self, spec: LimitSpec, amount: int, now: int) -> Outcome:
        """Purge one limit and say whether `amount` fits; writes nothing else."""
        if spec.session:
            window = (spec.window or 0) * US
            session = self._session(spec, now)
            used = 0 if session is None else session.total
            reset = 0 if session is None else session.start + window - now
            if amount > spec.limit:
                return Outcome(used, reset, TOO_LARGE)
            return Outcome(used, reset, reset if used + amount > spec.limit else 0)
        if spec.window is not None:
            window = spec.window * US
            log = self._logs.get(spec.key) or _Log()
            log.purge(now - window)
            used, reset = log.total, log.reset_us(now, window)
            if amount > spec.limit:
                return Outcome(used, reset, TOO_LARGE)
            over = used + amount - spec.limit
            return Outcome(used, reset, log.wait_us(over, now, window) if over > 0 else 0)
        slots = self._slots.get(spec.key) or _Slots()
        slots.purge(now)
        used, reset = len(slots.expiry), slots.reset_us(now)
        over = used + amount - spec.limit
        return Outcome(used, reset, slots.wait_us(over, now) if over > 0 else 0)

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        """Check every limit, then reserve on all of them or on none."""
        per_limit = resolve_amounts(limits, amounts)
        rid = new_reservation_id(request_id)
        now = self._now()
        self._purge_leases(now)
        outcomes = [self._look(s, a, now) for s, a in zip(limits, per_limit, strict=True)]
        admitted = all(o.retry_us == 0 for o in outcomes)
        expires = now + self._lease_us
        if admitted:
            self._leases[rid] = expires
            for i, (spec, amount) in enumerate(zip(limits, per_limit, strict=True)):
                used, reset = outcomes[i].used + amount, outcomes[i].reset_us
                if spec.session:
                    session = self._sessions.get(spec.key)
                    if session is None:
                        session = self._sessions[spec.key] = _Session(now)
                    session.total += amount
                    session.entries[rid] = amount
                    reset = session.start + (spec.window or 0) * US - now
                elif spec.window is not None:
                    log = self._logs.setdefault(spec.key, _Log())
                    log.entries[rid] = [now, amount]
                    log.total += amount
                    reset = spec.window * US
                else:
                    self._slots.setdefault(spec.key, _Slots()).expiry[rid] = expires
                    reset = max(reset, self._lease_us)
                outcomes[i] = Outcome(used, reset, 0)
        self._forget_empty(limits)
        return build_decision(
            limits,
            per_limit,
            outcomes,
            admitted=admitted,
            reservation_id=rid,
            lease_expires_us=expires,
        )

    def _forget_empty(self, limits: Sequence[LimitSpec]) -> None:
        """Drop empty per-limit structures so idle keys cost nothing."""
        for spec in limits:
            log = self._logs.get(spec.key)
            if log is not None and not log.entries:
                del self._logs[spec.key]
            slots = self._slots.get(spec.key)
            if slots is not None and not slots.expiry:
                del self._slots[spec.key]

    def _settle(
        self, reservation: Reservation, actual_tokens: int | None, *, cancel: bool = False
    ) -> bool:
        """Shared by commit (`actual_tokens` set), release (None: tokens returned) and
        cancel (every entry returned, requests too)."""
        if reservation.unenforced:
            return False
        now = self._now()
        self._purge_leases(now)
        if self._leases.pop(reservation.id, None) is None:
            return False
        rid = reservation.id
        for held in reservation.held:
            spec = held.spec
            if spec.session:
                self._settle_session(spec, rid, actual_tokens, now, cancel=cancel)
                continue
            if spec.window is None:
                slots = self._slots.get(spec.key)
                if slots is not None:  # pragma: no branch (a live lease keeps its slot)
                    slots.expiry.pop(rid, None)
                continue
            log = self._logs.get(spec.key)
            counted = spec.metric == "tokens" or cancel
            if not counted or log is None or rid not in log.entries:
                continue
            entry = log.entries[rid]
            if actual_tokens is None:
                del log.entries[rid]
                log.total -= entry[1]
            else:
                log.total += actual_tokens - entry[1]
                entry[1] = actual_tokens
        self._forget_empty([h.spec for h in reservation.held])
        return True

    def _settle_session(
        self, spec: LimitSpec, rid: str, actual_tokens: int | None, now: int, *, cancel: bool
    ) -> None:
        """True up or return tokens (or, cancelled, requests too), if the reservation's
        session is still the current one."""
        session = self._session(spec, now)
        counted = spec.metric == "tokens" or cancel
        if not counted or session is None or rid not in session.entries:
            return
        if actual_tokens is None:
            session.total -= session.entries.pop(rid)
        else:
            session.total += actual_tokens - session.entries[rid]
            session.entries[rid] = actual_tokens

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        """Replace the token estimate by the actual usage; free the slots."""
        check_actual(actual_tokens)
        return self._settle(reservation, actual_tokens)

    async def release(self, reservation: Reservation) -> bool:
        """Return the reserved tokens and slots; the request itself stays counted."""
        return self._settle(reservation, None)

    async def cancel(self, reservation: Reservation) -> bool:
        """Undo the admission: requests, tokens and slots all return."""
        return self._settle(reservation, None, cancel=True)

    async def renew(self, reservation: Reservation) -> Reservation | None:
        """Push the lease (and the slots) out to now + lease."""
        if reservation.unenforced:
            return None
        now = self._now()
        self._purge_leases(now)
        rid = reservation.id
        if rid not in self._leases:
            return None
        expires = now + self._lease_us
        self._leases[rid] = expires
        self._leases.move_to_end(rid)
        for held in reservation.held:
            slots = self._slots.get(held.spec.key) if held.spec.window is None else None
            if slots is not None and rid in slots.expiry:
                slots.expiry[rid] = expires
                slots.expiry.move_to_end(rid)
        return replace(reservation, lease_expires_at=expires / US)

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        """Usage of each limit now (expired entries are dropped on the way)."""
        now = self._now()
        states = []
        for spec in limits:
            outcome = self._look(spec, 0, now)
            states.append(LimitState(spec, outcome.used, max(0, outcome.reset_us) / US))
        return tuple(states)

    async def aclose(self) -> None:
        """Nothing to close; present for the interface."""


__all__ = ["MemoryLimiter"]
