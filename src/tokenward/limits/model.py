"""Value objects of the limiter: what is limited, what is held, what was decided.

A `LimitSpec` names one limit (scope, metric, window, size); `acquire` checks a list
of them at once and answers with a `Decision`. An admitted request also gets a
`Reservation`: the amounts it holds on every limit, under a *lease* that expires on
its own, so a replica killed mid-request cannot leak slots into false 429s.

Time inside the limiter is integer microseconds since the Unix epoch (exact in a
Lua double up to 2**53, i.e. for the next 250 years); the objects here speak
seconds (floats) because that is what headers and `Retry-After` need.

A backend whose store fails raises `tokenward.errors.LimiterUnavailable`: the 503 a
fail-closed gateway answers with ("limiter unavailable", never "quota exceeded").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from tokenward.errors import InvalidRequest, LimiterUnavailable, RateLimited, TokenwardError

#: "subscription" is for plan quotas (`plans/quota.py`); limit rules never use it
ScopeKind = Literal["key", "account", "plan", "model", "subscription"]
Metric = Literal["requests", "tokens", "concurrency"]
#: why a request was denied: a window is full, the request alone is bigger than the
#: limit (waiting cannot help), or the store is down under the fail-closed policy
DenyReason = Literal["limit_exceeded", "request_exceeds_limit", "limiter_unavailable"]

SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)
METRICS: tuple[Metric, ...] = get_args(Metric)

MINUTE = 60
DAY = 86_400
#: longest window accepted: a year covers monthly plan quotas with room to spare
MAX_WINDOW = 366 * DAY
#: sums must stay exact in a Lua double (2**53); this leaves a factor 9 of headroom
MAX_LIMIT = 10**15
#: a concurrency slot frees when any request ends, which the limiter cannot foresee;
#: the lease bound would be honest but useless, so Retry-After is capped at this
CONCURRENCY_RETRY_HINT = 1.0

US = 1_000_000
_SCOPE_ID = re.compile(r"[^\s{}]{1,256}")


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit: `limit` units of `metric` per `window` seconds for one scope.

    >>> LimitSpec("key", "key_123", "requests", 100, window=60).key
    'key:key_123:requests:60'

    Concurrency has no window (`window=None`): it counts requests in flight.

    `session=True` counts per *session* instead of sliding: a session starts at the
    first admitted request and lasts `window` seconds, then usage resets (see
    `backend.py`). It is part of the key, so it never shares state with a sliding limit.

    >>> LimitSpec("subscription", "sub_1", "requests", 100, window=18_000, session=True).key
    'subscription:sub_1:requests:18000:session'
    """

    scope: ScopeKind
    scope_id: str
    metric: Metric
    limit: int
    window: int | None = None
    session: bool = False
    #: stable identity and store key suffix, unambiguous read from the right; built
    #: once, as every check of every request looks it up several times
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scope not in SCOPE_KINDS:
            raise _invalid(
                f"unknown limit scope {self.scope!r}: expected one of {', '.join(SCOPE_KINDS)}",
                "scope",
            )
        if not isinstance(self.scope_id, str) or not _SCOPE_ID.fullmatch(self.scope_id):
            raise _invalid(
                f"invalid {self.scope} id {self.scope_id!r}: 1-256 characters, "
                "no whitespace or braces",
                "scope_id",
            )
        if self.metric not in METRICS:
            raise _invalid(
                f"unknown limit metric {self.metric!r}: expected one of {', '.join(METRICS)}",
                "metric",
            )
        if type(self.limit) is not int or not 0 < self.limit <= MAX_LIMIT:
            raise _invalid(
                f"{self.metric} limit must be a whole number from 1 to {MAX_LIMIT}, "
                f"got {self.limit!r}",
                "limit",
            )
        if type(self.session) is not bool:
            raise _invalid(f"session must be true or false, got {self.session!r}", "session")
        if self.metric == "concurrency":
            if self.window is not None:
                raise _invalid("a concurrency limit has no window", "window")
            if self.session:
                raise _invalid("a concurrency limit has no session", "session")
        elif type(self.window) is not int or not 0 < self.window <= MAX_WINDOW:
            raise _invalid(
                f"{self.metric} window must be a whole number of seconds from 1 to "
                f"{MAX_WINDOW} (60 per minute, 86400 per day), got {self.window!r}",
                "window",
            )
        window = "-" if self.window is None else str(self.window)
        key = f"{self.scope}:{self.scope_id}:{self.metric}:{window}"
        if self.session:
            key += ":session"
        object.__setattr__(self, "key", key)

    def describe(self) -> str:
        """Human wording for errors: "requests per 60 s for key key_123 (limit 100)"."""
        if self.window is None:
            per = "in flight"
        elif self.session:
            per = f"per session of {self.window} s"
        else:
            per = f"per {self.window} s"
        return f"{self.metric} {per} for {self.scope} {self.scope_id} (limit {self.limit})"


@dataclass(frozen=True, slots=True)
class Held:
    """The amount one reservation holds on one limit."""

    spec: LimitSpec
    amount: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an admitted request holds, until `commit`, `release` or its lease expires.

    `unenforced` marks a reservation handed out by the fail-open policy while the
    store was down: it holds nothing, and commit/release of it do nothing.
    """

    id: str
    held: tuple[Held, ...]
    lease_expires_at: float
    unenforced: bool = False


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit as seen by a decision: enough for the x-ratelimit-* headers.

    `reset_after` is the time until the usage counted now has fully drained (the
    OpenAI meaning of x-ratelimit-reset-*), assuming nothing new arrives;
    `retry_after` is 0 when the request asked for fits this limit, else the wait
    until it would (so an error may name every limit that refused).
    """

    spec: LimitSpec
    used: int
    reset_after: float
    retry_after: float = 0.0

    @property
    def remaining(self) -> int:
        return max(0, self.spec.limit - self.used)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to `acquire`: admitted with a reservation, or denied with a reason.

    `states` follows the order of the limits asked for and reflects usage *after*
    the decision (an admitted request is counted, a denied one is not).
    """

    allowed: bool
    states: tuple[LimitState, ...]
    reservation: Reservation | None = None
    denied_by: LimitSpec | None = None
    reason: DenyReason | None = None
    retry_after: float = 0.0

    def error(self) -> TokenwardError:
        """The exception a denied request is answered with (429, or 503 when unavailable)."""
        if self.allowed:
            raise ValueError("an admitted request has no error")
        if self.reason == "limiter_unavailable":
            return LimiterUnavailable(
                "limiter unavailable: request not admitted", retry_after=self.retry_after
            )
        spec = self.denied_by
        what = "the limiter" if spec is None else spec.describe()
        if self.reason == "request_exceeds_limit":
            message = f"request is larger than the limit on {what}"
        else:
            message = f"rate limit reached on {what}"
        return RateLimited(message, retry_after=self.retry_after)


def ratelimit_headers(states: Sequence[LimitState]) -> dict[str, str]:
    """OpenAI-style headers from the tightest requests and tokens limits.

    Several limits may share a metric (per key, per account, per minute, per day);
    the one with the fewest units remaining speaks for the metric.
    """
    headers: dict[str, str] = {}
    for metric in ("requests", "tokens"):
        mine = [s for s in states if s.spec.metric == metric]
        if not mine:
            continue
        tightest = min(mine, key=lambda s: (s.remaining, -s.reset_after))
        headers[f"x-ratelimit-limit-{metric}"] = str(tightest.spec.limit)
        headers[f"x-ratelimit-remaining-{metric}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{metric}"] = f"{tightest.reset_after:.3f}s"
    return headers


def retry_after_header(seconds: float) -> str:
    """`Retry-After` is whole seconds; round up and never say 0 on a 429."""
    return str(max(1, math.ceil(seconds)))


def resolve_amounts(
    limits: Sequence[LimitSpec], amounts: Mapping[str, int] | None
) -> tuple[int, ...]:
    """Per-limit amounts from per-metric ones; requests and concurrency default to 1.

    Also refuses duplicate limits, which would make "the" state of a key ambiguous.
    """
    given = dict(amounts or {})
    for metric, value in given.items():
        if metric not in METRICS:
            raise _invalid(f"unknown metric {metric!r} in amounts", "amounts")
        if type(value) is not int or value < 0 or value > MAX_LIMIT:
            raise _invalid(f"{metric} amount must be a whole number >= 0, got {value!r}", metric)
    if given.get("concurrency", 1) != 1:
        raise _invalid("a request holds exactly one concurrency slot", "concurrency")
    if any(s.metric == "tokens" for s in limits) and "tokens" not in given:
        raise _invalid("a tokens limit needs a tokens amount (the estimate)", "tokens")
    seen: set[str] = set()
    for spec in limits:
        if spec.key in seen:
            raise _invalid(f"limit {spec.key} is listed twice", "limits")
        seen.add(spec.key)
    return tuple(given.get(s.metric, 1) for s in limits)


__all__ = [
    "CONCURRENCY_RETRY_HINT",
    "DAY",
    "METRICS",
    "MINUTE",
    "SCOPE_KINDS",
    "Decision",
    "DenyReason",
    "Held",
    "LimitSpec",
    "LimitState",
    "LimiterUnavailable",
    "Metric",
    "Reservation",
    "ScopeKind",
    "ratelimit_headers",
    "resolve_amounts",
    "retry_after_header",
]
