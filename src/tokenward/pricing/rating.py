"""Rating: the cost of one request's usage under one price version. Pure functions.

Every line amount is exact (`quantity * unit_price / 1e6` in a context wide enough
that nothing rounds); the sum of the lines is rounded ONCE, by `money.round_cost`
(half-even to a micro). So rating is additive before rounding, and the rounded
cost is never more than half a micro from the exact one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Context, Decimal, Inexact, InvalidOperation, Overflow

from tokenward.metering.usage import Usage
from tokenward.money import MICRO, round_cost
from tokenward.pricing.book import TOKEN_CATEGORIES, ModelPrice, PriceVersion

#: wide enough for any product of validated prices, multipliers and token counts;
#: Inexact is trapped so a rounding could never hide here
_EXACT = Context(prec=120, traps=[Inexact, Overflow, InvalidOperation])
_ONE = Decimal(1)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RatedLine:
    """One category of a rating: `amount` is exact (`quantity * unit_price / 1e6`)."""

    category: str
    quantity: int
    #: per 1M tokens, after the window and plan multipliers
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Rating:
    """The cost of one event: `cost` is `round_cost(exact)`, the one rounding."""

    cost: Decimal
    exact: Decimal
    currency: str
    version_id: str
    #: the time-of-day window's name, or ""
    window: str
    lines: tuple[RatedLine, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "cost": f"{self.cost:f}",
            "exact": f"{self.exact:f}",
            "currency": self.currency,
            "version": self.version_id,
            "window": self.window,
            "lines": [
                {
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": f"{line.unit_price:f}",
                    "amount": f"{line.amount:f}",
                }
                for line in self.lines
            ],
        }


def quantities(usage: Usage) -> tuple[int, int, int, int, int]:
    """Billed quantities in `TOKEN_CATEGORIES` order; the parts come out of their parents.

    A provider reporting more cached or reasoning tokens than their parent is
    clamped (the parent is billed 0, never a negative quantity).
    """
    cached = usage.cached_input_tokens
    written = usage.cache_write_tokens
    reasoning = usage.reasoning_tokens
    plain_input = max(usage.input_tokens - cached - written, 0)
    plain_output = max(usage.output_tokens - reasoning, 0)
    return plain_input, cached, written, plain_output, reasoning


def _factor(
    version: PriceVersion, model: str, at: datetime, multiplier: Decimal
) -> tuple[Decimal, str]:
    window = version.window_at(model, at) if version.windows else None
    if window is None:
        return multiplier, ""
    return _EXACT.multiply(window.multiplier, multiplier), window.name


def rate(
    version: PriceVersion,
    model: str,
    usage: Usage,
    at: datetime,
    *,
    multiplier: Decimal = _ONE,
) -> Rating | None:
    """The rating of `usage` on `model` under `version` for a request started `at`.

    None when the version does not price the model. `multiplier` is the plan's
    (e.g. `Decimal("0.8")` for 20% off); the window's is applied on top of it.
    """
    price = version.models.get(model)
    if price is None:
        return None
    factor, window_name = _factor(version, model, at, multiplier)
    rates = price.resolved if factor == _ONE else price.scaled(factor, _EXACT.multiply)
    lines: list[RatedLine] = []
    exact = _ZERO
    for category, quantity, (unit_price, per_token) in zip(
        TOKEN_CATEGORIES, quantities(usage), rates, strict=True
    ):
        if quantity == 0:
            continue
        amount = _EXACT.multiply(quantity, per_token)
        exact = _EXACT.add(exact, amount)
        lines.append(RatedLine(category, quantity, unit_price, amount))
    return Rating(round_cost(exact), exact, version.currency, version.id, window_name, tuple(lines))


def worst_case(
    version: PriceVersion,
    model: str,
    at: datetime,
    input_tokens: int,
    max_output_tokens: int,
    *,
    multiplier: Decimal = _ONE,
) -> Decimal | None:
    """An upper bound, rounded UP to a micro, of the cost of any usage with at most
    `input_tokens` in and `max_output_tokens` out (for credit reservations).

    Cost is linear in the quantities with non-negative prices, so the bound is every
    input token at the dearest input-side price and every output token at the
    dearest output-side price.
    """
    price = version.models.get(model)
    if price is None:
        return None
    if input_tokens < 0 or max_output_tokens < 0:
        raise ValueError("token bounds must not be negative")
    factor, _ = _factor(version, model, at, multiplier)
    dearest_in = _dearest(price, ("input", "cached_input", "cache_write"))
    dearest_out = _dearest(price, ("output", "reasoning"))
    total = _EXACT.add(
        _EXACT.multiply(Decimal(input_tokens), dearest_in),
        _EXACT.multiply(Decimal(max_output_tokens), dearest_out),
    )
    exact = _EXACT.multiply(total, factor).scaleb(-6, _EXACT)
    return exact.quantize(MICRO, rounding=ROUND_CEILING)


def _dearest(price: ModelPrice, categories: tuple[str, ...]) -> Decimal:
    return max(price.price_of(category) for category in categories)


__all__ = ["RatedLine", "Rating", "quantities", "rate", "worst_case"]
