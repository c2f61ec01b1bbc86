"""The limiter interface, and the decision rules both backends share.

Algorithm (the same in `memory.py` and `lua/acquire.lua`): an exact **sliding log**.
Each windowed limit keeps one entry per admitted reservation, (timestamp, amount),
plus a running sum. An entry counts while `now - timestamp < window`; a request is
admitted when, for *every* limit asked, `sum + amount <= limit`, and only then is
anything written (all or nothing; a denied attempt leaves no trace). Concurrency
limits keep one slot per reservation, scored by its lease expiry.

Why a log and not GCRA or two buckets: the two-bucket approximation admits more or
fewer than L depending on where the window boundary falls, and GCRA spreads
requests evenly (it would refuse the 2nd of a burst of 100 under `100/min` unless
the burst size is also 100, and then it is a token bucket, not "L per window").
Token limits also need per-reservation entries anyway, to replace an estimate by
the actual usage (true-up) or return it (release). The price is memory: one entry
per admitted request still inside its window (about 100 bytes in Redis), so a
`tokens per day` limit on a key serving a million requests a day holds a million
entries; per-minute limits hold at most L.

Session limits (`LimitSpec.session`, for plan quotas) count per session instead:
a session starts at the first *admitted* request and lasts `window` seconds; inside
it a request is admitted while `used + amount <= limit`; at or after its end the
next request starts a new session with `used` back at 0. A denied request starts
nothing. Its retry wait is the time to the session's end (the window, when the
request alone is over the limit), and so is its reset. Token amounts are kept per
reservation, so commit and release adjust a session only while it is still the
one the reservation was admitted in (an ended session's entries are gone).

Life of a reservation:
  * `commit(actual)`: token entries take the actual usage (the sum follows);
    request entries stay; concurrency slots are freed.
  * `release()` (admitted, then failed upstream): token entries are removed,
    request entries stay (an admitted request counts toward RPM, as at OpenAI),
    concurrency slots are freed.
  * `cancel()` (admitted, then refused by a later stage before any upstream call,
    e.g. for credit): every entry goes, request entries included, as if the
    request had never been admitted (a refused request consumes nothing).
  * lease expiry (replica killed, or a stream never renewed): slots free
    themselves; token entries stay at the *estimate* until their window slides
    (the upstream may have served the request, so the estimate is the safe upper
    bound, like an `estimated` usage event). Commit or release after the lease
    has expired does nothing and returns False.

Over-admission bound (RELIABILITY rule 7): Σ actual ≤ limit holds exactly when the
estimate is the worst case (prompt + max_tokens). With a smaller estimate, a window
can overshoot by at most Σ (actual − estimate) over requests admitted in it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tokenward.errors import InvalidRequest
from tokenward.limits.model import (
    CONCURRENCY_RETRY_HINT,
    US,
    Decision,
    DenyReason,
    Held,
    LimitSpec,
    LimitState,
    Reservation,
)

#: default lease of a reservation and its concurrency slots; long streams renew it
DEFAULT_LEASE = 60.0
#: `Outcome.retry_us` when the request alone is larger than the limit
TOO_LARGE = -1


class LimiterBackend(Protocol):
    """Check-and-reserve over several limits at once, with leases.

    Implementations: `MemoryLimiter` (one process), `RedisLimiter` (shared by
    replicas), `ResilientLimiter` (a store backend under a failure policy). All
    pass the same contract suite in `tests/limits/`.
    """

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        """Admit and reserve on every limit, or on none; amounts are per metric
        (`requests` and `concurrency` default to 1; `tokens` is the estimate)."""
        ...

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        """True up token entries to `actual_tokens` and free concurrency slots."""
        ...

    async def release(self, reservation: Reservation) -> bool:
        """Return the tokens and slots of a request that failed; its request counts."""
        ...

    async def cancel(self, reservation: Reservation) -> bool:
        """Undo an admission refused by a later stage: requests, tokens and slots."""
        ...

    async def renew(self, reservation: Reservation) -> Reservation | None:
        """Extend the lease of a long request; None when the lease was already lost."""
        ...

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        """Current usage of each limit, without reserving anything (for headers)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the backend is unusable afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one backend computed for one limit, in microseconds.

    `used` is after the decision; `retry_us` is 0 when this limit has room,
    `TOO_LARGE` when it never will, otherwise the wait until enough frees.
    """

    used: int
    reset_us: int
    retry_us: int


def new_reservation_id(request_id: str) -> str:
    """The request id plus a random suffix: a retried request id gets its own lease."""
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 200:
        raise InvalidRequest("request id must be 1-200 characters", param="request_id")
    return f"{request_id}~{secrets.token_hex(6)}"


def check_lease(lease_seconds: float) -> int:
    """Validate a lease length and return it in microseconds."""
    if not 0 < lease_seconds <= 86_400:
        raise ValueError(f"lease must be between 0 and 86400 seconds, got {lease_seconds!r}")
    return int(lease_seconds * US)


def check_actual(actual_tokens: int) -> None:
    if type(actual_tokens) is not int or actual_tokens < 0:
        raise InvalidRequest(
            f"actual tokens must be a whole number >= 0, got {actual_tokens!r}", param="tokens"
        )


def retry_seconds(spec: LimitSpec, retry_us: int) -> float:
    """A limit's wait in seconds: the window when the request never fits; concurrency
    capped at `CONCURRENCY_RETRY_HINT`, as a slot frees whenever a request ends."""
    if retry_us == TOO_LARGE:
        return float(spec.window or 0)
    if spec.window is None:
        return min(retry_us / US, CONCURRENCY_RETRY_HINT)
    return retry_us / US


def build_decision(
    limits: Sequence[LimitSpec],
    amounts: Sequence[int],
    outcomes: Sequence[Outcome],
    *,
    admitted: bool,
    reservation_id: str,
    lease_expires_us: int,
) -> Decision:
    """Turn per-limit outcomes into a `Decision`; identical for both backends.

    When several limits refuse, the one that frees last is reported (the request
    cannot pass before it; on a tie, the first listed), and a limit the request
    can never fit wins outright.
    """
    states = tuple(
        LimitState(spec, o.used, max(0, o.reset_us) / US, retry_seconds(spec, o.retry_us))
        for spec, o in zip(limits, outcomes, strict=True)
    )
    if admitted:
        held = tuple(Held(s, a) for s, a in zip(limits, amounts, strict=True))
        reservation = Reservation(reservation_id, held, lease_expires_us / US)
        return Decision(True, states, reservation=reservation)
    refused = [(o.retry_us == TOO_LARGE, st) for o, st in zip(outcomes, states, strict=True)]
    refused = [(never, st) for never, st in refused if never or st.retry_after > 0]
    if not refused:
        raise RuntimeError("limiter denied a request that no limit refused")  # pragma: no cover
    never, worst = max(refused, key=lambda r: (r[0], r[1].retry_after))
    reason: DenyReason = "request_exceeds_limit" if never else "limit_exceeded"
    return Decision(
        False, states, denied_by=worst.spec, reason=reason, retry_after=worst.retry_after
    )


__all__ = [
    "DEFAULT_LEASE",
    "TOO_LARGE",
    "LimiterBackend",
    "Outcome",
    "build_decision",
    "check_actual",
    "check_lease",
    "new_reservation_id",
    "retry_seconds",
]
