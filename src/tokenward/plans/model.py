"""Plan terms and subscriptions as values, and the one parser of plan definitions.

A plan is a name and a currency; what it sells is a `PlanVersion`: the monthly
price, the periods offered with their discounts, the quotas and weights, the models
allowed, the seat caps and the grandfathering policy. Repricing adds a version,
never edits one, so every fee ever charged can be traced to the terms it used.

`parse_plan` is shared by the CLI flags, `--file plan.toml` and the admin API, so
all three refuse the same bad input with the same one-line message.

Price of a period (the one formula, rounded once with `money.round_cost`):

    list price = monthly price x months in the period
    price      = list price x (1 - period discount %) x (1 - first-purchase discount %)

The first-purchase discount applies to the first period of an account's first
ever subscription to the plan, and never to a renewal.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from tokenward.errors import InvalidRequest
from tokenward.money import format_amount, parse_amount, round_cost
from tokenward.plans.quota_rules import (
    NO_WEIGHTS,
    QuotaRule,
    QuotaWeights,
    parse_quota,
    parse_weights,
)

Period = Literal["month", "quarter", "year"]
Overage = Literal["block", "credits"]
Grandfather = Literal["period_end", "forever", "none"]
Status = Literal["active", "waitlisted", "canceled"]

PERIOD_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
OVERAGES: tuple[Overage, ...] = ("block", "credits")
GRANDFATHERS: tuple[Grandfather, ...] = ("period_end", "forever", "none")
#: seat and sales caps, and per-subscriber concurrency, are bounded to stay sane
MAX_COUNT = 1_000_000_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GLOB = re.compile(r"[^\s{}]{1,200}")
_TERMS = (
    "tier",
    "price",
    "periods",
    "first_purchase_discount",
    "quotas",
    "weights",
    "models",
    "concurrency",
    "overage",
    "price_multiplier",
    "max_subscribers",
    "daily_sales_cap",
    "grandfather",
)
#: the fields a plan definition may carry (`name` and `currency` only on creation)
PLAN_FIELDS = ("name", "currency", *_TERMS)


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def check_plan_name(name: object) -> str:
    """A plan name: 1-64 letters, digits, '.', '_' or '-'."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _invalid(
            f"invalid plan name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            "name",
        )
    return name


def check_period(period: object) -> Period:
    if not isinstance(period, str) or period not in PERIOD_MONTHS:
        raise _invalid(f"unknown period {period!r}: expected month, quarter or year", "period")
    return cast(Period, period)


def _percent(value: object, param: str) -> Decimal:
    percent = parse_amount(value, param)
    if percent > 100:
        raise _invalid(f"'{param}' is a percentage from 0 to 100, got {value!r}", param)
    return percent


def _count(value: object, param: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= MAX_COUNT:
        raise _invalid(
            f"'{param}' must be a whole number from 1 to {MAX_COUNT}, got {value!r}", param
        )
    return value


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """What one version of a plan sells (everything but its name, currency and dates)."""

    price: Decimal  # per month, in the plan's currency
    periods: tuple[tuple[Period, Decimal], ...] = (("month", Decimal(0)),)
    first_purchase_discount: Decimal = Decimal(0)
    tier: str = ""
    quotas: tuple[QuotaRule, ...] = ()
    weights: QuotaWeights = NO_WEIGHTS
    models: tuple[str, ...] = ()  # fnmatch globs; () = every model
    concurrency: int | None = None
    overage: Overage = "block"
    price_multiplier: Decimal = Decimal(1)
    max_subscribers: int | None = None
    daily_sales_cap: int | None = None
    grandfather: Grandfather = "period_end"

    def discount(self, period: Period) -> Decimal:
        """The period's discount percent; `InvalidRequest` if the plan does not offer it."""
        for name, percent in self.periods:
            if name == period:
                return percent
        offered = ", ".join(name for name, _ in self.periods)
        raise _invalid(f"this plan is not sold per {period} (offered: {offered})", "period")

    def quote(self, period: Period, first_purchase: bool) -> Quote:
        """The price of one `period`, by the formula in the module docstring."""
        list_price = self.price * PERIOD_MONTHS[period]
        period_off = self.discount(period)
        first_off = self.first_purchase_discount if first_purchase else Decimal(0)
        exact = list_price * (1 - period_off / 100) * (1 - first_off / 100)
        return Quote(round_cost(list_price), period_off, first_off, round_cost(exact))

    def as_input(self) -> dict[str, Any]:
        """The definition form: `parse_terms(terms.as_input()) == terms`."""
        return {
            "tier": self.tier,
            "price": format_amount(self.price),
            "periods": {name: _plain(p) for name, p in self.periods},
            "first_purchase_discount": _plain(self.first_purchase_discount),
            "quotas": [q.as_dict() for q in self.quotas],
            "weights": self.weights.as_dict(),
            "models": list(self.models),
            "concurrency": self.concurrency,
            "overage": self.overage,
            "price_multiplier": _plain(self.price_multiplier),
            "max_subscribers": self.max_subscribers,
            "daily_sales_cap": self.daily_sales_cap,
            "grandfather": self.grandfather,
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of one period, and how it was reached (for the fee's ledger details)."""

    list_price: Decimal
    period_discount: Decimal
    first_purchase_discount: Decimal
    price: Decimal

    def discounts(self) -> dict[str, str]:
        return {
            "period": _plain(self.period_discount),
            "first_purchase": _plain(self.first_purchase_discount),
        }


@dataclass(frozen=True, slots=True)
class PlanVersion:
    """One immutable version of a plan, in force from `effective_from`."""

    plan: str
    version: int
    currency: str
    effective_from: datetime
    created_at: datetime
    terms: PlanTerms

    @property
    def id(self) -> str:
        return version_id(self.plan, self.version)

    def as_dict(self) -> dict[str, Any]:
        terms = self.terms.as_input()
        return {
            "name": self.plan,
            "version": self.version,
            "version_id": self.id,
            "currency": self.currency,
            "effective_from": self.effective_from,
            "created_at": self.created_at,
            **terms,
            "quotas": [q.describe() for q in self.terms.quotas],
            "quota_rules": terms["quotas"],
        }


def version_id(plan: str, version: int) -> str:
    return f"{plan}@v{version}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """An account's subscription: waitlisted, active (in a paid period) or canceled."""

    id: str
    account_id: str
    account: str  # the account's name, for people
    plan: str
    plan_version: str  # the version whose price (and terms) the subscriber holds
    period: Period
    status: Status
    requested_at: datetime
    activated_at: datetime | None = None
    period_index: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    price: Decimal | None = None  # charged for the current period
    currency: str = ""
    first_purchase: bool = False
    canceled_at: datetime | None = None
    position: int | None = None  # on the waitlist, from 1
    note: str = ""  # why it was waitlisted, for people

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "account_id": self.account_id,
            "plan": self.plan,
            "plan_version": self.plan_version,
            "period": self.period,
            "status": self.status,
            "position": self.position,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "price": None if self.price is None else format_amount(self.price),
            "currency": self.currency,
            "first_purchase": self.first_purchase,
            "requested_at": self.requested_at,
            "activated_at": self.activated_at,
            "canceled_at": self.canceled_at,
            "note": self.note,
        }


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` plus calendar months, the day clamped to the month's end (Jan 31 + 1 = Feb 28)."""
    total = anchor.month - 1 + months
    year, month = anchor.year + total // 12, total % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_bounds(anchor: datetime, period: Period, index: int) -> tuple[datetime, datetime]:
    """Start and end of period `index` (0 = first) counted from `anchor`, so days never drift."""
    months = PERIOD_MONTHS[period]
    return add_months(anchor, index * months), add_months(anchor, (index + 1) * months)


def _periods(value: object) -> tuple[tuple[Period, Decimal], ...]:
    if not isinstance(value, Mapping) or not value:
        raise _invalid(
            "'periods' must map month, quarter and/or year to a discount percent", "periods"
        )
    found = {check_period(name): _percent(p, f"periods.{name}") for name, p in value.items()}
    return tuple((name, found[name]) for name in PERIOD_MONTHS if name in found)


def _globs(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _invalid("'models' must be a list of model names or globs", "models")
    globs = []
    for glob in value:
        if not isinstance(glob, str) or not _GLOB.fullmatch(glob.strip()):
            raise _invalid(f"invalid model glob {glob!r}", "models")
        globs.append(glob.strip())
    return tuple(dict.fromkeys(globs))


def _choice(value: object, choices: tuple[str, ...], param: str) -> Any:
    if value not in choices:
        raise _invalid(f"'{param}' must be {' or '.join(choices)}, got {value!r}", param)
    return value


def parse_terms(raw: Mapping[str, Any], base: PlanTerms | None = None) -> PlanTerms:
    """Plan terms from a definition; fields missing from `raw` come from `base`.

    Without `base` a price is required. Unknown fields are refused, so a typo never
    silently sells a plan without its quota.
    """
    unknown = sorted(str(k) for k in raw if k not in _TERMS)
    if unknown:
        raise _invalid(
            f"unknown plan field {unknown[0]!r}: expected {', '.join(PLAN_FIELDS)}", unknown[0]
        )
    if base is None:
        if raw.get("price") is None:
            raise _invalid("a plan needs a 'price' (per month)", "price")
        base = PlanTerms(price=Decimal(0))
    given = {k: v for k, v in raw.items() if v is not None}
    tier = given.get("tier", base.tier)
    if not isinstance(tier, str) or len(tier) > 64:
        raise _invalid("'tier' must be a name of at most 64 characters", "tier")
    quotas = base.quotas
    if "quotas" in given:
        if not isinstance(given["quotas"], (list, tuple)):
            raise _invalid("'quotas' must be a list of quota rules", "quotas")
        quotas = tuple(_quota(q) for q in given["quotas"])
    weights = base.weights
    if "weights" in given:
        if not isinstance(given["weights"], Mapping):
            raise _invalid("'weights' must be an object with models and/or times", "weights")
        weights = parse_weights(given["weights"])
    multiplier = base.price_multiplier
    if "price_multiplier" in given:
        multiplier = parse_amount(given["price_multiplier"], "price_multiplier", allow_zero=False)
    return PlanTerms(
        price=parse_amount(given["price"], "price") if "price" in given else base.price,
        periods=_periods(given["periods"]) if "periods" in given else base.periods,
        first_purchase_discount=(
            _percent(given["first_purchase_discount"], "first_purchase_discount")
            if "first_purchase_discount" in given
            else base.first_purchase_discount
        ),
        tier=tier.strip(),
        quotas=quotas,
        weights=weights,
        models=_globs(given["models"]) if "models" in given else base.models,
        concurrency=_nullable_count(raw, "concurrency", base.concurrency),
        overage=_choice(given.get("overage", base.overage), OVERAGES, "overage"),
        price_multiplier=multiplier,
        max_subscribers=_nullable_count(raw, "max_subscribers", base.max_subscribers),
        daily_sales_cap=_nullable_count(raw, "daily_sales_cap", base.daily_sales_cap),
        grandfather=_choice(
            given.get("grandfather", base.grandfather), GRANDFATHERS, "grandfather"
        ),
    )


def _nullable_count(raw: Mapping[str, Any], name: str, default: int | None) -> int | None:
    """A cap from `raw` (0 or "none" lifts it), else `default`."""
    if name not in raw or raw[name] is None:
        return default
    if raw[name] in (0, "none"):
        return None
    return _count(raw[name], name)


def _quota(raw: object) -> QuotaRule:
    if not isinstance(raw, Mapping):
        raise _invalid(f"a quota must be an object, got {raw!r}", "quotas")
    return parse_quota(raw)


__all__ = [
    "GRANDFATHERS",
    "OVERAGES",
    "PERIOD_MONTHS",
    "PLAN_FIELDS",
    "Grandfather",
    "Overage",
    "Period",
    "PlanTerms",
    "PlanVersion",
    "Quote",
    "Status",
    "Subscription",
    "add_months",
    "check_period",
    "check_plan_name",
    "parse_terms",
    "period_bounds",
    "version_id",
]
