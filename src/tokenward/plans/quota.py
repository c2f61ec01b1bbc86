"""Plan quotas, counted by the limiter engine so they are exact across replicas.

A subscription's quota rules become `LimitSpec`s of scope "subscription" (one per
rule, plus one for concurrency when the plan caps it) and go through the same
`LimiterBackend` as the per-key limits, in a separate `acquire` per request: with
the Redis backend every replica sees the same windows (atomic Lua, Redis TIME),
and a denied request leaves no trace on any window (all or nothing).

Weights: a request of a model weighing `w` at its start time counts `ceil(w)`
requests and `ceil(estimate * w)` tokens, then `ceil(actual * w)` once committed.
The products are exact `Decimal`s (never floats); `ceil` is the only rounding, and
it never lets a weighted request count less than its weight.

    hold = await quotas.admit(plan, request_id, model, clock.now(), estimate)
    try:
        usage = await call_upstream(...)
    except UpstreamError:
        await quotas.release(hold)
        raise
    await quotas.commit(hold, usage.total_tokens)

`LimiterUnavailable` from a store backend passes through untouched (as does a
fail-closed `ResilientLimiter`'s denial, raised as that error): the caller's
failure policy decides, and it is never reported as "quota exceeded".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from tokenward.errors import InvalidRequest, RateLimited
from tokenward.limits.backend import LimiterBackend
from tokenward.limits.model import (
    MAX_LIMIT,
    Decision,
    LimitSpec,
    Reservation,
    ScopeKind,
    retry_after_header,
)
from tokenward.plans.quota_rules import (
    NO_WEIGHTS,
    WEIGHT_PRECISION,
    QuotaRule,
    QuotaWeights,
)

SCOPE: ScopeKind = "subscription"


def weighted(amount: int, weight: Decimal) -> int:
    """`ceil(amount * weight)`, exact, capped at the limiter's largest amount."""
    with localcontext() as ctx:
        ctx.prec = WEIGHT_PRECISION
        return min(MAX_LIMIT, math.ceil(Decimal(amount) * weight))


def rule_spec(subscription_id: str, rule: QuotaRule) -> LimitSpec:
    """The limiter's view of one quota rule of one subscription."""
    return LimitSpec(
        SCOPE,
        subscription_id,
        rule.unit,
        rule.limit,
        window=rule.window_s,
        session=rule.kind == "session",
    )


@dataclass(frozen=True, slots=True)
class QuotaPlan:
    """What one subscription is entitled to: every rule must hold for a request."""

    subscription_id: str
    plan: str
    rules: tuple[QuotaRule, ...]
    weights: QuotaWeights = NO_WEIGHTS
    concurrency: int | None = None
    #: the limits, in rule order (then concurrency); built and checked once
    specs: tuple[LimitSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        specs = [rule_spec(self.subscription_id, rule) for rule in self.rules]
        if self.concurrency is not None:
            specs.append(LimitSpec(SCOPE, self.subscription_id, "concurrency", self.concurrency))
        seen: dict[str, QuotaRule] = {}
        for rule, spec in zip(self.rules, specs, strict=False):
            if spec.key in seen:
                raise InvalidRequest(
                    f"plan {self.plan} has two quotas on the same window: "
                    f"{seen[spec.key].describe()} and {rule.describe()}",
                    param="quotas",
                )
            seen[spec.key] = rule
        object.__setattr__(self, "specs", tuple(specs))

    def describe(self, spec: LimitSpec) -> str:
        """A limit of this plan in the plan's own words ("100 requests per 5h (sliding)")."""
        for rule, mine in zip(self.rules, self.specs, strict=False):
            if mine == spec:
                return rule.describe()
        return f"{self.concurrency} requests in flight"


class QuotaExceeded(RateLimited):
    """A plan quota is used up (429); `retry_after` is when the request would fit.

    The message names the plan and the window that refuses longest, since the
    request cannot pass before it frees.
    """

    code = "quota_exceeded"

    def __init__(self, message: str, *, retry_after: float, plan: str, quota: str) -> None:
        super().__init__(message, retry_after=retry_after)
        self.plan = plan
        self.quota = quota


@dataclass(frozen=True, slots=True)
class QuotaHold:
    """What an admitted request holds on its plan's quotas, until commit or release."""

    reservation: Reservation
    weight: Decimal
    plan: QuotaPlan


def _refusal(plan: QuotaPlan, decision: Decision) -> Exception:
    if decision.reason == "limiter_unavailable" or decision.denied_by is None:
        return decision.error()
    quota = plan.describe(decision.denied_by)
    wait = decision.retry_after
    if decision.reason == "request_exceeds_limit":
        message = f"request is larger than the quota of plan {plan.plan}: {quota}"
    else:
        message = (
            f"quota of plan {plan.plan} exhausted: {quota}; retry in {retry_after_header(wait)} s"
        )
    return QuotaExceeded(message, retry_after=wait, plan=plan.plan, quota=quota)


class QuotaEngine:
    """Admits, trues up and releases requests against their subscription's quotas."""

    def __init__(self, backend: LimiterBackend) -> None:
        self._backend = backend

    async def admit(
        self,
        plan: QuotaPlan,
        request_id: str,
        model: str,
        at: datetime,
        estimated_tokens: int,
    ) -> QuotaHold:
        """Reserve on every window of the plan, or raise `QuotaExceeded` having reserved none."""
        if type(estimated_tokens) is not int or estimated_tokens < 0:
            raise InvalidRequest(
                f"estimated tokens must be a whole number >= 0, got {estimated_tokens!r}",
                param="tokens",
            )
        weight = plan.weights.weight(model, at)
        amounts = {
            "requests": weighted(1, weight),
            "tokens": weighted(estimated_tokens, weight),
        }
        decision = await self._backend.acquire(request_id, plan.specs, amounts)
        if not decision.allowed or decision.reservation is None:
            raise _refusal(plan, decision)
        return QuotaHold(decision.reservation, weight, plan)

    async def commit(self, hold: QuotaHold, actual_tokens: int) -> None:
        """Replace the weighted estimate by the weighted actual usage."""
        if type(actual_tokens) is not int or actual_tokens < 0:
            raise InvalidRequest(
                f"actual tokens must be a whole number >= 0, got {actual_tokens!r}",
                param="tokens",
            )
        await self._backend.commit(hold.reservation, weighted(actual_tokens, hold.weight))

    async def release(self, hold: QuotaHold) -> None:
        """The request failed upstream: its tokens return, its request still counts."""
        await self._backend.release(hold.reservation)

    async def renew(self, hold: QuotaHold) -> QuotaHold | None:
        """Extend the lease of a long stream; None when it was already lost."""
        reservation = await self._backend.renew(hold.reservation)
        if reservation is None:
            return None
        return QuotaHold(reservation, hold.weight, hold.plan)

    async def peek(self, plan: QuotaPlan) -> list[dict[str, Any]]:
        """Used, limit and reset of every quota of the plan, for `plans usage`."""
        states = await self._backend.peek(plan.specs)
        rows: list[dict[str, Any]] = []
        for rule, state in zip(plan.rules, states, strict=False):
            rows.append(
                {
                    **rule.as_dict(),
                    "quota": rule.describe(),
                    "used": state.used,
                    "remaining": state.remaining,
                    "reset_after": round(state.reset_after, 3),
                }
            )
        if plan.concurrency is not None:
            state = states[-1]
            rows.append(
                {
                    "window": None,
                    "kind": "concurrency",
                    "unit": "requests",
                    "limit": plan.concurrency,
                    "quota": plan.describe(state.spec),
                    "used": state.used,
                    "remaining": state.remaining,
                    "reset_after": round(state.reset_after, 3),
                }
            )
        return rows


__all__ = [
    "QuotaEngine",
    "QuotaExceeded",
    "QuotaHold",
    "QuotaPlan",
    "rule_spec",
    "weighted",
]
