"""Plan quotas as values: which windows a plan counts, and how much each request weighs.

A plan's quota is a list of rules ("100 requests per 5h", "2,000,000 tokens per
week") that must *all* hold, plus weights: a model may count three times (an
expensive model), and a time-of-day window may multiply that again (peak hours).
Parsing lives here, pure and strict, so the plans service, the admin API and the
CLI refuse the same bad input with the same one-line message; counting lives in
`quota.py`, on the limiter engine.

Weights are exact `Decimal`s (strings or ints in the input, never floats) with at
most six decimal places, so a weighted amount is always `ceil` of an exact product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fnmatch import fnmatchcase
from typing import Any, Literal, cast

from tokenward.errors import InvalidRequest
from tokenward.limits.model import MAX_LIMIT, MAX_WINDOW
from tokenward.money import MICRO, parse_amount
from tokenward.timewindows import DailyWindow

#: named windows; a month is 30 days (a rolling window, not a calendar month)
WINDOW_NAMES = {"5h": 18_000, "day": 86_400, "week": 604_800, "month": 2_592_000}
_WINDOW_LABELS = {seconds: name for name, seconds in WINDOW_NAMES.items()}
QuotaKind = Literal["sliding", "session"]
QuotaUnit = Literal["requests", "tokens"]
QUOTA_KINDS: tuple[QuotaKind, ...] = ("sliding", "session")
QUOTA_UNITS: tuple[QuotaUnit, ...] = ("requests", "tokens")
#: largest weight or multiplier: a weighted estimate must stay under the limiter's bound
MAX_WEIGHT = Decimal(1000)
#: enough digits for any weight product times any amount, so `ceil` sees the exact value
WEIGHT_PRECISION = 60
_ONE = Decimal(1)


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def window_label(window_s: int) -> str:
    """ "5h", "week"... for named windows, else "3600 s"."""
    return _WINDOW_LABELS.get(window_s, f"{window_s} s")


@dataclass(frozen=True, slots=True)
class QuotaRule:
    """`limit` units per `window_s` seconds, counted sliding or per session.

    >>> QuotaRule(18_000, "sliding", "requests", 100).describe()
    '100 requests per 5h (sliding)'
    """

    window_s: int
    #: sliding: the last `window_s` seconds; session: starts at the first request,
    #: resets `window_s` seconds later
    kind: QuotaKind
    #: tokens are weighted tokens; requests are weighted requests
    unit: QuotaUnit
    limit: int

    def __post_init__(self) -> None:
        if type(self.window_s) is not int or not 0 < self.window_s <= MAX_WINDOW:
            raise _invalid(
                f"quota window must be 5h, day, week, month or a whole number of seconds "
                f"from 1 to {MAX_WINDOW}, got {self.window_s!r}",
                "window",
            )
        if self.kind not in QUOTA_KINDS:
            raise _invalid(f"unknown quota kind {self.kind!r}: expected sliding or session", "kind")
        if self.unit not in QUOTA_UNITS:
            raise _invalid(f"unknown quota unit {self.unit!r}: expected requests or tokens", "unit")
        if type(self.limit) is not int or not 0 < self.limit <= MAX_LIMIT:
            raise _invalid(
                f"quota limit must be a whole number from 1 to {MAX_LIMIT}, got {self.limit!r}",
                "limit",
            )

    def describe(self) -> str:
        return f"{self.limit} {self.unit} per {window_label(self.window_s)} ({self.kind})"

    def as_dict(self) -> dict[str, Any]:
        """The input form: `parse_quota(rule.as_dict()) == rule`."""
        window: str | int = _WINDOW_LABELS.get(self.window_s, self.window_s)
        return {"window": window, "kind": self.kind, "unit": self.unit, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class TimeWeight:
    """Inside `window` (local time), requests for `models` (globs; () = all) weigh
    `multiplier` times their model weight."""

    window: DailyWindow
    multiplier: Decimal
    models: tuple[str, ...] = ()

    def applies(self, model: str, at: datetime) -> bool:
        if self.models and not any(fnmatchcase(model, glob) for glob in self.models):
            return False
        return self.window.contains(at)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.window.as_dict(),
            "multiplier": _plain(self.multiplier),
            "models": list(self.models),
        }


@dataclass(frozen=True, slots=True)
class QuotaWeights:
    """How much one request of a model counts at an instant (default 1)."""

    #: (glob, weight); the first glob that matches the model wins
    models: tuple[tuple[str, Decimal], ...] = ()
    #: the first window that applies multiplies the model weight
    times: tuple[TimeWeight, ...] = ()

    def weight(self, model: str, at: datetime) -> Decimal:
        base = next((w for glob, w in self.models if fnmatchcase(model, glob)), _ONE)
        factor = next((t.multiplier for t in self.times if t.applies(model, at)), _ONE)
        with localcontext() as ctx:
            ctx.prec = WEIGHT_PRECISION
            return base * factor

    def as_dict(self) -> dict[str, Any]:
        """The input form: `parse_weights(w.as_dict()) == w`."""
        return {
            "models": {glob: _plain(w) for glob, w in self.models},
            "times": [t.as_dict() for t in self.times],
        }


#: every request counts once
NO_WEIGHTS = QuotaWeights()


def _plain(value: Decimal) -> str:
    """A weight as a plain decimal string without trailing zeros ("3", "0.5")."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check_keys(raw: object, allowed: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _invalid(f"{what} must be an object, got {type(raw).__name__}", what)
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise _invalid(
            f"unknown field {unknown[0]!r} in {what}: expected {', '.join(allowed)}", unknown[0]
        )
    return cast(Mapping[str, Any], raw)


def _parse_window(value: object) -> int:
    if isinstance(value, str) and value in WINDOW_NAMES:
        return WINDOW_NAMES[value]
    if type(value) is int and 0 < value <= MAX_WINDOW:
        return value
    raise _invalid(
        f"quota window must be 5h, day, week, month or a whole number of seconds "
        f"from 1 to {MAX_WINDOW}, got {value!r}",
        "window",
    )


def parse_quota(raw: Mapping[str, Any]) -> QuotaRule:
    """{"window": "5h" | "day" | "week" | "month" | seconds, "kind": "sliding" | "session",
    "unit": "requests" | "tokens", "limit": int} to a rule; a 400 on anything else."""
    data = _check_keys(raw, ("window", "kind", "unit", "limit"), "quota")
    for name in ("window", "unit", "limit"):
        if name not in data:
            raise _invalid(f"quota needs '{name}'", name)
    kind = data.get("kind", "sliding")
    if kind not in QUOTA_KINDS:
        raise _invalid(f"unknown quota kind {kind!r}: expected sliding or session", "kind")
    unit = data["unit"]
    if unit not in QUOTA_UNITS:
        raise _invalid(f"unknown quota unit {unit!r}: expected requests or tokens", "unit")
    return QuotaRule(_parse_window(data["window"]), kind, unit, data["limit"])


def _parse_weight(value: object, param: str) -> Decimal:
    weight = parse_amount(value, param, allow_zero=False)
    if weight > MAX_WEIGHT:
        raise _invalid(f"'{param}' must be at most {MAX_WEIGHT}, got {value!r}", param)
    if weight != weight.quantize(MICRO):
        raise _invalid(f"'{param}' has more than 6 decimal places: {value!r}", param)
    return weight


def _parse_globs(value: object, param: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(g, str) and g.strip() for g in value
    ):
        raise _invalid(f"'{param}' must be a list of model names or globs", param)
    return tuple(g.strip() for g in value)


def _parse_time(raw: object, index: int) -> TimeWeight:
    data = _check_keys(raw, ("start", "end", "timezone", "multiplier", "models"), "times")
    for name in ("start", "end", "timezone", "multiplier"):
        if name not in data:
            raise _invalid(f"times[{index}] needs '{name}'", name)
    window = DailyWindow.parse(data["start"], data["end"], data["timezone"])
    multiplier = _parse_weight(data["multiplier"], "multiplier")
    return TimeWeight(window, multiplier, _parse_globs(data.get("models", []), "models"))


def parse_weights(raw: Mapping[str, Any]) -> QuotaWeights:
    """{"models": {"glob": "3"}, "times": [{"start": "14:00", "end": "18:00",
    "timezone": "Asia/Shanghai", "multiplier": "3", "models": ["glm-*"]}]}; a 400 on
    anything else. Weights are decimal strings or ints > 0, at most 1000."""
    data = _check_keys(raw, ("models", "times"), "weights")
    models_raw = data.get("models", {})
    if not isinstance(models_raw, Mapping):
        raise _invalid("'models' must map model globs to weights", "models")
    models: list[tuple[str, Decimal]] = []
    for glob, value in models_raw.items():
        if not isinstance(glob, str) or not glob.strip():
            raise _invalid(f"model glob must be a non-empty string, got {glob!r}", "models")
        models.append((glob.strip(), _parse_weight(value, f"models.{glob.strip()}")))
    times_raw = data.get("times", [])
    if not isinstance(times_raw, (list, tuple)):
        raise _invalid("'times' must be a list of time-of-day windows", "times")
    times = tuple(_parse_time(t, i) for i, t in enumerate(times_raw))
    return QuotaWeights(tuple(models), times)


__all__ = [
    "MAX_WEIGHT",
    "NO_WEIGHTS",
    "QUOTA_KINDS",
    "QUOTA_UNITS",
    "WINDOW_NAMES",
    "QuotaKind",
    "QuotaRule",
    "QuotaUnit",
    "QuotaWeights",
    "TimeWeight",
    "parse_quota",
    "parse_weights",
    "window_label",
]
