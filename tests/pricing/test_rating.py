"""Rating: pure functions over one price version; exact, additive, rounded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.metering.usage import Usage
from tokenward.money import MICRO, round_cost
from tokenward.pricing import ModelPrice, PriceVersion, PriceWindow, rate
from tokenward.pricing.rating import worst_case
from tokenward.timewindows import DailyWindow

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def version(
    *models: ModelPrice, windows: tuple[PriceWindow, ...] = (), currency: str = "USD"
) -> PriceVersion:
    return PriceVersion(
        id="book@2026-01-01",
        book="book",
        currency=currency,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
        models={m.model: m for m in models},
        windows=windows,
        note="",
    )


def price(model: str = "m", **per_million: str) -> ModelPrice:
    prices = {"input": "2", "output": "8", **per_million}
    return ModelPrice(model, {k: Decimal(v) for k, v in prices.items()}, {}, "test")


FULL = price(
    "full", input="3", cached_input="0.30", cache_write="3.75", output="15", reasoning="20"
)
SPARSE = price("sparse", input="0.27", output="1.10")
OFF_PEAK = PriceWindow(
    "off_peak", DailyWindow.parse("00:30", "08:30", "Asia/Shanghai"), Decimal("0.5"), ("deep*",)
)


def test_parts_are_billed_at_their_own_prices_out_of_their_parents() -> None:
    usage = Usage(
        input_tokens=1_000,
        cached_input_tokens=300,
        cache_write_tokens=200,
        output_tokens=400,
        reasoning_tokens=100,
    )
    rating = rate(version(FULL), "full", usage, AT)
    assert rating is not None
    lines = {line.category: (line.quantity, line.unit_price) for line in rating.lines}
    assert lines == {
        "input": (500, Decimal("3")),
        "cached_input": (300, Decimal("0.30")),
        "cache_write": (200, Decimal("3.75")),
        "output": (300, Decimal("15")),
        "reasoning": (100, Decimal("20")),
    }
    expected = (
        500 * Decimal(3) + 300 * Decimal("0.3") + 200 * Decimal("3.75") + 300 * 15 + 100 * 20
    ) / 1_000_000
    assert rating.exact == expected and rating.cost == round_cost(expected)
    assert (rating.currency, rating.version_id, rating.window) == ("USD", "book@2026-01-01", "")


def test_missing_part_prices_fall_back_to_their_parents() -> None:
    usage = Usage(
        input_tokens=10, cached_input_tokens=4, cache_write_tokens=1, output_tokens=6,
        reasoning_tokens=5,
    )  # fmt: skip
    rating = rate(version(SPARSE), "sparse", usage, AT)
    assert rating is not None
    assert {line.category: line.unit_price for line in rating.lines} == {
        "input": Decimal("0.27"),
        "cached_input": Decimal("0.27"),
        "cache_write": Decimal("0.27"),
        "output": Decimal("1.10"),
        "reasoning": Decimal("1.10"),
    }


def test_an_unpriced_model_has_no_rating() -> None:
    assert rate(version(FULL), "other", Usage(input_tokens=1), AT) is None
    assert worst_case(version(FULL), "other", AT, 1, 1) is None


def test_the_plan_multiplier_scales_every_unit_price() -> None:
    rating = rate(version(SPARSE), "sparse", Usage(input_tokens=1_000_000), AT,
                  multiplier=Decimal("0.8"))  # fmt: skip
    assert rating is not None and rating.cost == Decimal("0.216000")
    assert rating.lines[0].unit_price == Decimal("0.216")


@pytest.mark.parametrize(
    ("instant", "discounted"),
    [
        ("2026-06-01T16:29:59Z", False),  # 00:29:59 in Shanghai
        ("2026-06-01T16:30:00Z", True),  # 00:30:00
        ("2026-06-02T00:29:59Z", True),  # 08:29:59
        ("2026-06-02T00:30:00Z", False),  # 08:30:00
    ],
)
def test_off_peak_boundaries_in_shanghai_from_utc_instants(instant: str, discounted: bool) -> None:
    at = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    book = version(price("deepseek-chat"), price("other"), windows=(OFF_PEAK,))
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    rating = rate(book, "deepseek-chat", usage, at)
    assert rating is not None
    assert rating.window == ("off_peak" if discounted else "")
    assert rating.cost == (Decimal(5) if discounted else Decimal(10))
    other = rate(book, "other", usage, at)  # the window's globs do not match it
    assert other is not None and other.window == "" and other.cost == 10


def test_the_first_matching_window_wins_and_stacks_with_the_plan() -> None:
    everyone = PriceWindow("night", DailyWindow.parse("00:00", "12:00", "UTC"), Decimal("0.9"), ())
    book = version(price("deepseek-chat"), windows=(OFF_PEAK, everyone))
    at = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)  # 01:00 in Shanghai: both windows
    rating = rate(book, "deepseek-chat", Usage(input_tokens=1_000_000), at,
                  multiplier=Decimal("0.8"))  # fmt: skip
    assert rating is not None and rating.window == "off_peak"
    assert rating.cost == Decimal("0.8")  # 2 * 0.5 * 0.8


def test_worst_case_uses_the_dearest_price_of_each_side_and_rounds_up() -> None:
    cost = worst_case(version(FULL), "full", AT, 1, 1)
    assert cost == Decimal("0.000024")  # (3.75 + 20) / 1e6 = 0.00002375 -> up


usages = st.builds(
    lambda i, c, w, o, r: Usage(
        input_tokens=i + c + w,
        cached_input_tokens=c,
        cache_write_tokens=w,
        output_tokens=o + r,
        reasoning_tokens=r,
    ),
    *(st.integers(0, 2_000_000) for _ in range(5)),
)
prices = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False)
multipliers = st.decimals(min_value=Decimal("0.01"), max_value=10, places=3)


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        cached_input_tokens=a.cached_input_tokens + b.cached_input_tokens,
        cache_write_tokens=a.cache_write_tokens + b.cache_write_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
    )


def _model(p: list[Decimal]) -> ModelPrice:
    names = ("input", "cached_input", "cache_write", "output", "reasoning")
    return ModelPrice("m", dict(zip(names, p, strict=True)), {}, "h")


@settings(derandomize=True, max_examples=150, deadline=None)
@given(usages, usages, st.lists(prices, min_size=5, max_size=5), multipliers)
def test_rating_is_additive_exact_and_rounded_once(
    a: Usage, b: Usage, p: list[Decimal], multiplier: Decimal
) -> None:
    book = version(_model(p))
    ra, rb, rab = (rate(book, "m", u, AT, multiplier=multiplier) for u in (a, b, _sum(a, b)))
    assert ra is not None and rb is not None and rab is not None
    assert rab.exact == ra.exact + rb.exact
    for rating in (ra, rb, rab):
        assert abs(rating.cost - rating.exact) <= MICRO / 2
        assert rating.cost == round_cost(rating.exact)
        assert rating.exact == sum((line.amount for line in rating.lines), Decimal(0))
        values = [rating.cost, rating.exact]
        values += [v for line in rating.lines for v in (line.unit_price, line.amount)]
        assert all(type(v) is Decimal for v in values)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(usages, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_the_sum_of_rounded_costs_does_not_depend_on_order(batch: list[Usage], rnd: object) -> None:
    book = version(FULL)
    costs = [rate(book, "full", u, AT) for u in batch]
    shuffled = list(batch)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    again = [rate(book, "full", u, AT) for u in shuffled]
    assert sum(r.cost for r in costs if r) == sum(r.cost for r in again if r)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    usages,
    st.lists(prices, min_size=5, max_size=5),
    multipliers,
    st.integers(0, 3_000_000),
    st.integers(0, 3_000_000),
    st.integers(0, 24 * 3600),
)
def test_worst_case_covers_every_usage_within_the_bounds(
    usage: Usage,
    p: list[Decimal],
    multiplier: Decimal,
    extra_in: int,
    extra_out: int,
    second: int,
) -> None:
    half = PriceWindow("half", DailyWindow.parse("22:00", "06:00", "UTC"), Decimal("0.5"), ())
    book = version(_model(p), windows=(half,))
    at = AT + timedelta(seconds=second)
    bound = worst_case(
        book,
        "m",
        at,
        usage.input_tokens + extra_in,
        usage.output_tokens + extra_out,
        multiplier=multiplier,
    )
    rating = rate(book, "m", usage, at, multiplier=multiplier)
    assert bound is not None and rating is not None
    assert type(bound) is Decimal and bound >= rating.cost and bound == bound.quantize(MICRO)
