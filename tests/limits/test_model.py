"""Value objects: validation with clear messages, headers, and the errors a denial maps to."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tokenward.errors import InvalidRequest, RateLimited
from tokenward.limits import (
    Decision,
    FailClosed,
    LimiterUnavailable,
    LimitSpec,
    LimitState,
    MemoryLimiter,
    RedisLimiter,
    ResilientLimiter,
    ratelimit_headers,
    retry_after_header,
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "whole number from 1"),
        ({"limit": -5}, "whole number from 1"),
        ({"limit": 2.5}, "whole number from 1"),
        ({"limit": True}, "whole number from 1"),
        ({"limit": 10**16}, "whole number from 1"),
        ({"scope": "tier"}, "unknown limit scope 'tier'"),
        ({"metric": "bytes"}, "unknown limit metric 'bytes'"),
        ({"scope_id": ""}, "invalid key id"),
        ({"scope_id": "has space"}, "invalid key id"),
        ({"scope_id": "{tag}"}, "invalid key id"),
        ({"window": None}, "window must be a whole number"),
        ({"window": 0}, "window must be a whole number"),
        ({"window": 1.5}, "window must be a whole number"),
        ({"window": 10**9}, "window must be a whole number"),
    ],
)
def test_bad_limits_are_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    """Zero, negative, fractional or huge limits, unknown scopes and metrics: a 400."""
    spec: dict[str, object] = {
        "scope": "key",
        "scope_id": "key_1",
        "metric": "requests",
        "limit": 10,
        "window": 60,
    }
    with pytest.raises(InvalidRequest, match=message) as caught:
        LimitSpec(**(spec | kwargs))  # type: ignore[arg-type]
    assert caught.value.status == 400 and caught.value.param


def test_concurrency_has_no_window() -> None:
    with pytest.raises(InvalidRequest, match="no window"):
        LimitSpec("key", "k", "concurrency", 5, window=60)
    assert LimitSpec("key", "k", "concurrency", 5).key == "key:k:concurrency:-"


def test_key_and_wording() -> None:
    spec = LimitSpec("account", "acme/gpt-4o", "tokens", 50_000, window=60)
    assert spec.key == "account:acme/gpt-4o:tokens:60"
    assert spec.describe() == "tokens per 60 s for account acme/gpt-4o (limit 50000)"


def test_headers_speak_for_the_tightest_limit_of_each_metric() -> None:
    """Per-key and per-account limits on one metric: the one with least room is shown."""
    key_rpm = LimitSpec("key", "k", "requests", 100, window=60)
    acct_rpm = LimitSpec("account", "a", "requests", 1000, window=60)
    tpm = LimitSpec("key", "k", "tokens", 5000, window=60)
    conc = LimitSpec("key", "k", "concurrency", 2)
    states = [
        LimitState(key_rpm, 40, 12.5),
        LimitState(acct_rpm, 990, 30.0),
        LimitState(tpm, 6000, 59.0),
        LimitState(conc, 1, 60.0),
    ]
    assert ratelimit_headers(states) == {
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-remaining-requests": "10",
        "x-ratelimit-reset-requests": "30.000s",
        "x-ratelimit-limit-tokens": "5000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "59.000s",
    }
    assert ratelimit_headers([]) == {}


def test_retry_after_header_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_header(s) for s in (0.0, 0.2, 1.0, 29.01)] == ["1", "1", "1", "30"]


def test_denials_map_to_errors_that_name_the_cause() -> None:
    """429 naming the limit; 503 "limiter unavailable" when the store is down."""
    spec = LimitSpec("key", "key_1", "requests", 100, window=60)
    state = LimitState(spec, 100, 30.0, 12.0)
    limited = Decision(False, (state,), denied_by=spec, reason="limit_exceeded", retry_after=12)
    error = limited.error()
    assert isinstance(error, RateLimited) and error.retry_after == 12
    assert error.message == "rate limit reached on requests per 60 s for key key_1 (limit 100)"
    down = Decision(False, (), reason="limiter_unavailable", retry_after=1.0)
    unavailable = down.error()
    assert isinstance(unavailable, LimiterUnavailable) and unavailable.status == 503
    assert "quota" not in unavailable.message and "limit reached" not in unavailable.message
    with pytest.raises(ValueError, match="admitted"):
        Decision(True, ()).error()


def test_backend_settings_are_validated() -> None:
    """Nonsense leases, deadlines, prefixes and intervals fail at start-up."""
    client = Redis()  # never connects: nothing is sent
    with pytest.raises(ValueError, match="lease"):
        MemoryLimiter(lease_seconds=0)
    with pytest.raises(ValueError, match="lease"):
        RedisLimiter(client, lease_seconds=10**6)
    with pytest.raises(ValueError, match="prefix"):
        RedisLimiter(client, prefix="has space")
    with pytest.raises(ValueError, match="timeout"):
        RedisLimiter(client, timeout=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        RedisLimiter(client, max_in_flight=0)
    with pytest.raises(ValueError, match="retry_after"):
        FailClosed(retry_after=0)
    with pytest.raises(ValueError, match="probe_interval"):
        ResilientLimiter(MemoryLimiter(), FailClosed(), probe_interval=-1)


def test_session_limits_have_their_own_key_and_wording() -> None:
    """The session flag is part of the key: a session never shares a sliding limit's state."""
    sliding = LimitSpec("subscription", "sub_1", "requests", 100, window=18_000)
    session = LimitSpec("subscription", "sub_1", "requests", 100, window=18_000, session=True)
    assert sliding.key == "subscription:sub_1:requests:18000"
    assert session.key == "subscription:sub_1:requests:18000:session"
    assert sliding != session
    assert session.describe() == (
        "requests per session of 18000 s for subscription sub_1 (limit 100)"
    )


def test_bad_session_limits_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="no session"):
        LimitSpec("key", "k", "concurrency", 5, session=True)
    with pytest.raises(InvalidRequest, match="session must be true or false"):
        LimitSpec("key", "k", "requests", 5, window=60, session=1)  # type: ignore[arg-type]
