"""Limits and admission: requests, tokens and concurrency per key, account, plan, model.

One interface, `LimiterBackend`, with two backends of identical semantics, proven by
one contract suite (`tests/limits/`): `MemoryLimiter` for one process and
`RedisLimiter` for replicas sharing a Redis. `ResilientLimiter` puts a store
backend under a `FailOpen` or `FailClosed` policy. The algorithm (an exact sliding
log with leases) is described in `backend.py`.

Life of a request:

    decision = await limiter.acquire(request_id, limits, {"tokens": estimate})
    if not decision.allowed:
        raise decision.error()                 # 429 (or 503: limiter unavailable)
    try:
        usage = await call_upstream(...)       # renew() every lease/3 on long streams
    except UpstreamError:
        await limiter.release(decision.reservation)
        raise
    await limiter.commit(decision.reservation, usage.total_tokens)
"""

from __future__ import annotations

from tokenward.limits.backend import DEFAULT_LEASE, LimiterBackend
from tokenward.limits.memory import MemoryLimiter
from tokenward.limits.model import (
    DAY,
    MINUTE,
    Decision,
    DenyReason,
    Held,
    LimiterUnavailable,
    LimitSpec,
    LimitState,
    Metric,
    Reservation,
    ScopeKind,
    ratelimit_headers,
    retry_after_header,
)
from tokenward.limits.policy import FailClosed, FailOpen, FailurePolicy, ResilientLimiter
from tokenward.limits.redis import DEFAULT_TIMEOUT, RedisLimiter

__all__ = [
    "DAY",
    "DEFAULT_LEASE",
    "DEFAULT_TIMEOUT",
    "MINUTE",
    "Decision",
    "DenyReason",
    "FailClosed",
    "FailOpen",
    "FailurePolicy",
    "Held",
    "LimitSpec",
    "LimitState",
    "LimiterBackend",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Metric",
    "RedisLimiter",
    "Reservation",
    "ResilientLimiter",
    "ScopeKind",
    "ratelimit_headers",
    "retry_after_header",
]
