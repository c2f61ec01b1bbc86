"""Money: `Decimal` amounts, currencies, and the one rounding rule of the money path.

Rule (SPEC section 6, RELIABILITY I5): a usage event's cost is computed exactly in
`Decimal` from the price book, then rounded **once**, to 1e-6 of the currency
(a "micro"), half-even. Everything stored is an integer number of micros
(`BigInteger` columns), exact on SQLite and PostgreSQL alike and summable in SQL;
totals are sums of stored micros, so an invoice equals the sum of its events to the
last micro. Floats never enter: `parse_amount` refuses them.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from tokenward.errors import InvalidRequest

#: one micro: the resolution of every stored amount
MICRO = Decimal("0.000001")
MICROS_PER_UNIT = 1_000_000
#: BigInteger bound with a factor 1000 of headroom for sums: 9.2e12 units of currency
MAX_MICROS = 9_223_372_036_854_775

#: ISO 4217 codes we accept; a price book, a grant or a plan in any other is refused
CURRENCIES = frozenset(
    {
        "USD", "CNY", "EUR", "GBP", "JPY", "HKD", "SGD", "KRW", "INR", "CAD", "AUD",
        "CHF", "SEK", "NOK", "DKK", "NZD", "TWD", "BRL", "MXN", "AED", "SAR", "RUB",
    }
)  # fmt: skip
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def check_currency(code: object, param: str = "currency") -> str:
    """An upper-case ISO 4217 code we support, or a 400 naming the field."""
    if not isinstance(code, str) or code.upper() not in CURRENCIES:
        raise InvalidRequest(
            f"unknown currency {code!r}: expected an ISO 4217 code such as USD or CNY",
            param=param,
        )
    return code.upper()


def parse_amount(
    value: object, param: str = "amount", *, allow_zero: bool = True, allow_negative: bool = False
) -> Decimal:
    """A finite Decimal from a string, int or Decimal; floats are refused (not exact)."""
    if isinstance(value, (bool, float)):
        raise InvalidRequest(
            f"'{param}' must be given as a decimal string (e.g. \"1.25\"), not a float",
            param=param,
        )
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str) and _AMOUNT.fullmatch(value.strip()):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise InvalidRequest(f"'{param}' is not a number: {value!r}", param=param) from None
    else:
        raise InvalidRequest(f"'{param}' is not a decimal number: {value!r}", param=param)
    if not amount.is_finite():
        raise InvalidRequest(f"'{param}' must be finite, got {value!r}", param=param)
    if amount < 0 and not allow_negative:
        raise InvalidRequest(f"'{param}' must not be negative, got {value!r}", param=param)
    if amount == 0 and not allow_zero:
        raise InvalidRequest(f"'{param}' must be greater than zero", param=param)
    if abs(amount) * MICROS_PER_UNIT > MAX_MICROS:
        raise InvalidRequest(f"'{param}' is too large: {value!r}", param=param)
    return amount


def round_cost(amount: Decimal) -> Decimal:
    """The rounding rule: to one micro, half-even. Applied once per event."""
    return amount.quantize(MICRO, rounding=ROUND_HALF_EVEN)


def to_micros(amount: Decimal) -> int:
    """An amount (rounded by the rule) as whole micros, for storage."""
    return int(round_cost(amount).scaleb(6))


def from_micros(micros: int) -> Decimal:
    """Stored micros back to a Decimal with exactly six places."""
    return (Decimal(micros) / MICROS_PER_UNIT).quantize(MICRO)


def format_amount(amount: Decimal, places: int = 6) -> str:
    """A plain decimal string (never exponent notation) for JSON, CSV and HTML."""
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"


__all__ = [
    "CURRENCIES",
    "MICRO",
    "MICROS_PER_UNIT",
    "check_currency",
    "format_amount",
    "from_micros",
    "parse_amount",
    "round_cost",
    "to_micros",
]
