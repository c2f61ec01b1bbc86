"""Plan terms without a database: parsing, the price formula, calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.errors import InvalidRequest
from tokenward.money import round_cost
from tokenward.plans.model import PlanTerms, add_months, parse_terms, period_bounds

BASE = {"price": "20.00", "periods": {"month": "0", "quarter": "10", "year": "20"}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price": None}, "a plan needs a 'price'"),
        ({"price": "-1"}, "'price' must not be negative"),
        ({"price": 1.5}, "not a float"),
        ({"price": "NaN"}, "not a decimal number"),
        ({"quotas": [{"window": "fortnight", "unit": "requests", "limit": 1}]}, "quota window"),
        ({"quotas": [{"window": "5h", "unit": "requests", "limit": 0}]}, "quota limit"),
        ({"quotas": [{"window": "5h", "unit": "calls", "limit": 1}]}, "unknown quota unit"),
        ({"quotas": "100/5h"}, "'quotas' must be a list"),
        ({"periods": {"month": "0", "decade": "50"}}, "unknown period 'decade'"),
        ({"periods": {"year": "120"}}, "percentage from 0 to 100"),
        ({"periods": {}}, "'periods' must map"),
        ({"first_purchase_discount": "-5"}, "must not be negative"),
        ({"overage": "borrow"}, "'overage' must be block or credits"),
        ({"grandfather": "always"}, "'grandfather' must be period_end or forever or none"),
        ({"max_subscribers": -3}, "'max_subscribers' must be a whole number"),
        ({"daily_sales_cap": "ten"}, "'daily_sales_cap' must be a whole number"),
        ({"concurrency": 2.0}, "'concurrency' must be a whole number"),
        ({"price_multiplier": "0"}, "must be greater than zero"),
        ({"seats": 3}, "unknown plan field 'seats'"),
        ({"models": ["gpt 4"]}, "invalid model glob"),
        ({"weights": {"models": {"gpt-*": "0"}}}, "must be greater than zero"),
        ({"weights": {"times": [{"start": "14:00", "end": "14:00"}]}}, "needs 'timezone'"),
        ({"tier": 3}, "'tier' must be a name"),
    ],
)
def test_bad_terms_are_refused_in_one_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        parse_terms({**BASE, **changes})
    assert "\n" not in str(caught.value)


def test_terms_round_trip_through_their_input_form() -> None:
    terms = parse_terms(
        {
            **BASE,
            "first_purchase_discount": "50",
            "tier": "gold",
            "quotas": [
                {"window": "5h", "unit": "requests", "limit": 100},
                {"window": "week", "unit": "tokens", "limit": 2_000_000, "kind": "session"},
            ],
            "weights": {
                "models": {"gpt-4o*": "3"},
                "times": [
                    {
                        "start": "14:00",
                        "end": "18:00",
                        "timezone": "Asia/Shanghai",
                        "multiplier": "3",
                        "models": ["glm-*"],
                    }
                ],
            },
            "models": ["gpt-*", "glm-*"],
            "concurrency": 2,
            "overage": "credits",
            "price_multiplier": "1.5",
            "max_subscribers": 3,
            "daily_sales_cap": 10,
            "grandfather": "forever",
        }
    )
    assert parse_terms(terms.as_input()) == terms
    at = datetime(2026, 1, 15, 7, tzinfo=UTC)  # 15:00 in Shanghai: peak
    assert terms.weights.weight("glm-4", at) == 3
    assert terms.weights.weight("gpt-4o-mini", at) == 3
    assert terms.quotas[1].describe() == "2000000 tokens per week (session)"
    # a reprice keeps what it does not change; 0 lifts a cap
    repriced = parse_terms({"price": "26", "max_subscribers": 0}, base=terms)
    assert (repriced.price, repriced.max_subscribers) == (Decimal(26), None)
    assert (repriced.quotas, repriced.periods) == (terms.quotas, terms.periods)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    price=st.decimals(min_value=0, max_value=10_000, places=2),
    period=st.sampled_from(["month", "quarter", "year"]),
    period_off=st.integers(0, 100),
    first_off=st.integers(0, 100),
    first=st.booleans(),
)
def test_the_price_formula(
    price: Decimal, period: Any, period_off: int, first_off: int, first: bool
) -> None:
    terms = PlanTerms(
        price=price,
        periods=((period, Decimal(period_off)),),
        first_purchase_discount=Decimal(first_off),
    )
    quote = terms.quote(period, first_purchase=first)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    expected = price * months * (100 - period_off) / 100
    if first:
        expected = expected * (100 - first_off) / 100
    assert quote.price == round_cost(expected)
    assert 0 <= quote.price <= quote.list_price == price * months
    assert quote.price.as_tuple().exponent == -6


def test_periods_are_calendar_months_anchored_at_the_start() -> None:
    jan31 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    assert add_months(jan31, 1) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(jan31, 13) == datetime(2027, 2, 28, 9, 30, tzinfo=UTC)
    # anchored: the third month ends on the 30th of April, not drifting to the 28th
    assert period_bounds(jan31, "month", 2) == (
        datetime(2026, 3, 31, 9, 30, tzinfo=UTC),
        datetime(2026, 4, 30, 9, 30, tzinfo=UTC),
    )
    assert period_bounds(jan31, "quarter", 0)[1] == datetime(2026, 4, 30, 9, 30, tzinfo=UTC)
    assert period_bounds(jan31, "year", 1)[1] == datetime(2028, 1, 31, 9, 30, tzinfo=UTC)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(leap, 12) == datetime(2029, 2, 28, tzinfo=UTC)


def test_a_period_the_plan_does_not_sell_is_refused() -> None:
    terms = parse_terms({"price": "5"})
    with pytest.raises(InvalidRequest, match=r"not sold per quarter \(offered: month\)"):
        terms.quote("quarter", first_purchase=False)
