"""Limits and admission: requests, tokens and concurrency per key, account, plan, model.

One interface, `LimiterBackend`, with two backends of identical semantics, proven by
one contract suite (`tests/limits/`): `MemoryLimiter` for one process and
`RedisLimiter` for replicas sharing a Redis. `ResilientLimiter` puts a store
backend under a `FailOpen` or `FailClosed` policy. The algorithm (an exact sliding
log with leases) is described in `backend.py`. Which limits apply to a request is
decided by the rules (`rules.py`: per key, account, plan and model, set by CLI and
admin API); `Admission` (`admission.py`) is the pipeline stage that applies them.

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

from tokenward.limits.admission import UNLIMITED, Admission, FixedRules, RuleCache, RuleSource
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
from tokenward.limits.rules import (
    LimitRule,
    RuleBook,
    delete_limits,
    list_limits,
    load_rules,
    model_index,
    set_limits,
    validate_limits,
)

__all__ = [
    "DAY",
    "DEFAULT_LEASE",
    "DEFAULT_TIMEOUT",
    "MINUTE",
    "UNLIMITED",
    "Admission",
    "Decision",
    "DenyReason",
    "FailClosed",
    "FailOpen",
    "FailurePolicy",
    "FixedRules",
    "Held",
    "LimitRule",
    "LimitSpec",
    "LimitState",
    "LimiterBackend",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Metric",
    "RedisLimiter",
    "Reservation",
    "ResilientLimiter",
    "RuleBook",
    "RuleCache",
    "RuleSource",
    "ScopeKind",
    "delete_limits",
    "list_limits",
    "load_rules",
    "model_index",
    "ratelimit_headers",
    "retry_after_header",
    "set_limits",
    "validate_limits",
]
