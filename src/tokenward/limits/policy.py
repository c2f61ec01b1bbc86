"""What to do when the limiter's store is down: a strategy, with a counter and a deadline.

`ResilientLimiter(backend, FailOpen())` or `FailClosed()` wraps a store backend.
A failed acquire (refused, timed out after the backend's short deadline, BUSY) is
answered by the policy instead of an error, so the gateway never turns a Redis
outage into a storm of 5xx:

* `FailOpen`: admit without enforcing (the reservation is `unenforced`); count it
  in `admitted`, exported as `tokenward_limiter_fail_open_total`.
* `FailClosed`: deny with reason `limiter_unavailable` (a 503 or 429 whose
  message says so, never "quota exceeded"); count it in `denied`.

After a failure the store is left alone for `probe_interval` seconds (the policy
answers at once, adding no latency), then the next call probes it again; when it
answers, exact limiting resumes by itself, with no restart. A Redis restarted
without persistence starts with empty windows: usage before the outage is
forgotten (with AOF it is kept), and leases handed out before it expire by TTL.

Settling (commit, release, renew) during an outage is best effort: it is logged
and skipped (not even tried inside the probe interval), since the lease will
expire by itself; renew then hands back the old reservation so a stream goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from tokenward.clock import Clock, SystemClock
from tokenward.limits.backend import LimiterBackend, new_reservation_id
from tokenward.limits.model import (
    Decision,
    LimiterUnavailable,
    LimitSpec,
    LimitState,
    Reservation,
    resolve_amounts,
)

log = logging.getLogger(__name__)


class FailurePolicy(Protocol):
    """Decides an acquire the store could not answer."""

    name: str

    def decide(self, reservation_id: str, error: LimiterUnavailable) -> Decision: ...


class FailOpen:
    """Admit while the store is down; count every request served that way."""

    name = "fail_open"

    def __init__(self) -> None:
        self.admitted = 0

    def decide(self, reservation_id: str, error: LimiterUnavailable) -> Decision:
        self.admitted += 1
        reservation = Reservation(reservation_id, (), 0.0, unenforced=True)
        return Decision(True, (), reservation=reservation)


class FailClosed:
    """Deny while the store is down, saying so, with a `Retry-After`."""

    name = "fail_closed"

    def __init__(self, retry_after: float = 1.0) -> None:
        if retry_after <= 0:
            raise ValueError("retry_after must be positive")
        self.retry_after = retry_after
        self.denied = 0

    def decide(self, reservation_id: str, error: LimiterUnavailable) -> Decision:
        self.denied += 1
        return Decision(False, (), reason="limiter_unavailable", retry_after=self.retry_after)


class ResilientLimiter:
    """A `LimiterBackend` that answers by `policy` while `backend`'s store is down."""

    def __init__(
        self,
        backend: LimiterBackend,
        policy: FailurePolicy,
        *,
        clock: Clock | None = None,
        probe_interval: float = 0.5,
    ) -> None:
        if probe_interval < 0:
            raise ValueError("probe_interval must be >= 0")
        self.backend = backend
        self.policy = policy
        self._clock = clock or SystemClock()
        self._probe_interval = probe_interval
        self._skip_until = float("-inf")
        #: store failures seen (every call that raised, not the calls skipped)
        self.store_errors = 0

    @property
    def available(self) -> bool:
        """False while the last call failed and the probe interval has not passed."""
        return self._clock.monotonic() >= self._skip_until

    def _failed(self, operation: str, error: LimiterUnavailable) -> None:
        self.store_errors += 1
        self._skip_until = self._clock.monotonic() + self._probe_interval
        log.warning("limiter %s failed, policy %s: %s", operation, self.policy.name, error)

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        """The backend's decision, or the policy's when the store cannot answer."""
        resolve_amounts(limits, amounts)  # bad input stays a 400 during an outage too
        if self.available:
            try:
                return await self.backend.acquire(request_id, limits, amounts)
            except LimiterUnavailable as error:
                self._failed("acquire", error)
                return self.policy.decide(new_reservation_id(request_id), error)
        return self.policy.decide(
            new_reservation_id(request_id), LimiterUnavailable("limiter store down")
        )

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        """The backend's commit; False (skipped) when unenforced or the store is down."""
        return await self._settle(
            "commit", reservation, lambda: self.backend.commit(reservation, actual_tokens)
        )

    async def release(self, reservation: Reservation) -> bool:
        """The backend's release; False (skipped) when unenforced or the store is down."""
        return await self._settle("release", reservation, lambda: self.backend.release(reservation))

    async def cancel(self, reservation: Reservation) -> bool:
        """The backend's cancel; False (skipped) when unenforced or the store is down."""
        return await self._settle("cancel", reservation, lambda: self.backend.cancel(reservation))

    async def _settle(
        self, operation: str, reservation: Reservation, call: Callable[[], Awaitable[bool]]
    ) -> bool:
        """One settling call for a live reservation; a store failure skips it (the lease
        expires by itself) and is counted under the policy."""
        if reservation.unenforced or not self.available:
            return False
        try:
            return await call()
        except LimiterUnavailable as error:
            self._failed(operation, error)
            return False

    async def renew(self, reservation: Reservation) -> Reservation | None:
        """During an outage the old reservation is returned: nothing enforces anyway."""
        if reservation.unenforced or not self.available:
            return reservation
        try:
            return await self.backend.renew(reservation)
        except LimiterUnavailable as error:
            self._failed("renew", error)
            return reservation

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        """No states (so no headers) while the store is down."""
        if not self.available:
            return ()
        try:
            return await self.backend.peek(limits)
        except LimiterUnavailable as error:
            self._failed("peek", error)
            return ()

    async def aclose(self) -> None:
        await self.backend.aclose()


__all__ = ["FailClosed", "FailOpen", "FailurePolicy", "ResilientLimiter"]
