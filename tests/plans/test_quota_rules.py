"""Quota rules and weights as values: strict parsing, exact weights, round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.errors import InvalidRequest
from tokenward.plans.quota_rules import (
    WINDOW_NAMES,
    QuotaRule,
    QuotaWeights,
    parse_quota,
    parse_weights,
)

PEAK = {
    "start": "14:00",
    "end": "18:00",
    "timezone": "Asia/Shanghai",
    "multiplier": "3",
    "models": ["glm-*"],
}


def test_named_windows_and_defaults() -> None:
    assert WINDOW_NAMES == {"5h": 18_000, "day": 86_400, "week": 604_800, "month": 2_592_000}
    rule = parse_quota({"window": "5h", "unit": "requests", "limit": 100})
    assert rule == QuotaRule(18_000, "sliding", "requests", 100)
    assert rule.describe() == "100 requests per 5h (sliding)"
    session = parse_quota({"window": 3600, "kind": "session", "unit": "tokens", "limit": 5})
    assert session.describe() == "5 tokens per 3600 s (session)"
    assert session.as_dict() == {"window": 3600, "kind": "session", "unit": "tokens", "limit": 5}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"window": "hour", "unit": "requests", "limit": 1}, "quota window must be"),
        ({"window": 0, "unit": "requests", "limit": 1}, "quota window must be"),
        ({"window": 1.5, "unit": "requests", "limit": 1}, "quota window must be"),
        ({"window": True, "unit": "requests", "limit": 1}, "quota window must be"),
        ({"window": 10**9, "unit": "requests", "limit": 1}, "quota window must be"),
        ({"window": "day", "unit": "bytes", "limit": 1}, "unknown quota unit 'bytes'"),
        ({"window": "day", "kind": "fixed", "unit": "requests", "limit": 1}, "unknown quota kind"),
        ({"window": "day", "unit": "requests", "limit": 0}, "whole number from 1"),
        ({"window": "day", "unit": "requests", "limit": "10"}, "whole number from 1"),
        ({"window": "day", "unit": "requests", "limit": 2.0}, "whole number from 1"),
        ({"window": "day", "unit": "requests"}, "quota needs 'limit'"),
        ({"unit": "requests", "limit": 1}, "quota needs 'window'"),
        ({"window": "day", "unit": "requests", "limit": 1, "x": 1}, "unknown field 'x'"),
    ],
)
def test_bad_quotas_are_refused_in_one_line(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        parse_quota(raw)
    assert caught.value.status == 400 and "\n" not in caught.value.message


def test_quota_rule_validates_when_built_directly() -> None:
    with pytest.raises(InvalidRequest, match="quota limit"):
        QuotaRule(60, "sliding", "requests", -1)
    with pytest.raises(InvalidRequest, match="quota kind"):
        QuotaRule(60, "rolling", "requests", 1)  # type: ignore[arg-type]


def test_weights_multiply_model_and_peak_hours() -> None:
    """glm-* weighs 2, and 3x that from 14:00 to 18:00 Shanghai (06:00-10:00 UTC)."""
    weights = parse_weights({"models": {"glm-*": "2", "*-mini": "0.5"}, "times": [PEAK]})
    off_peak = datetime(2026, 1, 1, 5, 59, tzinfo=UTC)
    peak = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    assert weights.weight("glm-4", off_peak) == 2
    assert weights.weight("glm-4", peak) == 6
    assert weights.weight("gpt-4o-mini", peak) == Decimal("0.5")  # the window names glm-* only
    assert weights.weight("gpt-4o", peak) == 1
    assert weights.weight("glm-4", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)) == 2  # 18:00: out


def test_first_matching_glob_and_window_win() -> None:
    weights = parse_weights(
        {
            "models": {"glm-4-air": "1.5", "glm-*": 4},
            "times": [
                {"start": "22:00", "end": "06:00", "timezone": "UTC", "multiplier": "0.5"},
                {"start": "00:00", "end": "12:00", "timezone": "UTC", "multiplier": "10"},
            ],
        }
    )
    night = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    morning = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
    assert weights.weight("glm-4-air", night) == Decimal("0.75")
    assert weights.weight("glm-4", morning) == 40
    assert QuotaWeights().weight("anything", night) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"models": {"glm-*": 2.5}}, "not a float"),
        ({"models": {"glm-*": "0"}}, "greater than zero"),
        ({"models": {"glm-*": "-1"}}, "must not be negative"),
        ({"models": {"glm-*": "NaN"}}, "not a decimal number"),
        ({"models": {"glm-*": "1001"}}, "at most 1000"),
        ({"models": {"glm-*": "1.0000001"}}, "more than 6 decimal places"),
        ({"models": {"": "1"}}, "non-empty"),
        ({"models": ["glm-*"]}, "must map model globs"),
        ({"times": {"start": "14:00"}}, "must be a list"),
        ({"times": [{**PEAK, "timezone": "Mars/Base"}]}, "unknown time zone"),
        ({"times": [{**PEAK, "start": "25:00"}]}, "HH:MM"),
        ({"times": [{**PEAK, "end": "14:00"}]}, "different start and end"),
        ({"times": [{**PEAK, "models": "glm-*"}]}, "list of model names"),
        ({"times": [{"start": "14:00", "end": "15:00", "timezone": "UTC"}]}, "'multiplier'"),
        ({"times": [{**PEAK, "colour": "red"}]}, "unknown field 'colour'"),
        ({"peak": []}, "unknown field 'peak'"),
    ],
)
def test_bad_weights_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_weights(raw)


def test_weights_round_trip() -> None:
    weights = parse_weights({"models": {"glm-*": "2.50", "o*": 3}, "times": [PEAK]})
    assert weights.as_dict() == {
        "models": {"glm-*": "2.5", "o*": "3"},
        "times": [PEAK],
    }
    assert parse_weights(weights.as_dict()) == weights


@settings(derandomize=True, max_examples=60)
@given(
    window=st.one_of(st.sampled_from(sorted(WINDOW_NAMES)), st.integers(1, 366 * 86_400)),
    kind=st.sampled_from(["sliding", "session"]),
    unit=st.sampled_from(["requests", "tokens"]),
    limit=st.integers(1, 10**15),
)
def test_quota_round_trip(window: str | int, kind: str, unit: str, limit: int) -> None:
    rule = parse_quota({"window": window, "kind": kind, "unit": unit, "limit": limit})
    assert parse_quota(rule.as_dict()) == rule
    assert rule.describe().startswith(f"{limit} {unit} per ")
