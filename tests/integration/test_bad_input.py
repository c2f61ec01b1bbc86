"""Bad input gets a clear OpenAI-format error, never a 5xx, and books nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Gateway

CHAT = "/v1/chat/completions"
VALID = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.new_key("badinput")


def assert_openai_error(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code", "param"}
    assert body["error"]["message"] and "Traceback" not in response.text
    if param is not None:
        assert body["error"]["param"] == param
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"\xff\xfe\xfd", 400, None),
        (b"[1,2]", 400, None),
        (json.dumps({"messages": VALID["messages"]}).encode(), 400, "model"),
        (json.dumps({**VALID, "model": 42}).encode(), 400, "model"),
        (json.dumps({**VALID, "messages": "hi"}).encode(), 400, "messages"),
        (json.dumps({**VALID, "stream": "yes"}).encode(), 400, "stream"),
        (json.dumps({**VALID, "n": 0}).encode(), 400, "n"),
        (json.dumps({**VALID, "n": 10_000}).encode(), 400, "n"),
        (json.dumps({**VALID, "max_tokens": -5}).encode(), 400, "max_tokens"),
        (json.dumps({**VALID, "max_tokens": 10**12}).encode(), 400, "max_tokens"),
        (json.dumps({**VALID, "max_tokens": 1.5}).encode(), 400, "max_tokens"),
        (json.dumps({**VALID, "model": "no-such-model"}).encode(), 404, "model"),
        (b"[" * 5000 + b"]" * 5000, 400, None),
    ],
)
def test_bad_bodies(
    http: httpx.Client, key: str, body: bytes, status: int, param: str | None
) -> None:
    response = http.post(CHAT, content=body, headers={"Authorization": f"Bearer {key}"})
    assert_openai_error(response, status, param)


def test_body_over_the_limit_is_413(http: httpx.Client, key: str) -> None:
    big = {**VALID, "messages": [{"role": "user", "content": "x" * 70_000}]}
    response = http.post(CHAT, json=big, headers={"Authorization": f"Bearer {key}"})
    assert_openai_error(response, 413)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer tw-not-a-key"}, {"Authorization": "Basic abc"}],
)
def test_missing_or_invalid_key_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    assert_openai_error(http.post(CHAT, json=VALID, headers=headers), 401)


def test_key_created_then_revoked_from_the_cli_takes_effect_within_a_second(
    gateway: Gateway, http: httpx.Client
) -> None:
    key = gateway.new_key("lifecycle")
    headers = {"Authorization": f"Bearer {key}"}
    assert http.post(CHAT, json=VALID, headers=headers).status_code == 200
    gateway.cli("keys", "revoke", gateway.keys[key])
    revoked_at = time.monotonic()
    while http.post(CHAT, json=VALID, headers=headers).status_code == 200:
        assert time.monotonic() - revoked_at < 1.0, "revocation took over a second"
        time.sleep(0.05)
    response = http.post(CHAT, json=VALID, headers=headers)
    assert_openai_error(response, 401)
    assert "revoked" in response.json()["error"]["message"]


def test_expired_key_is_401(gateway: Gateway, http: httpx.Client) -> None:
    gateway.cli("accounts", "create", "expiring")
    expires = datetime.now(UTC) + timedelta(seconds=5)
    key = gateway.new_key("expiring", "--expires", expires.isoformat())
    headers = {"Authorization": f"Bearer {key}"}
    assert http.post(CHAT, json=VALID, headers=headers).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    response = http.post(CHAT, json=VALID, headers=headers)
    assert_openai_error(response, 401)
    assert "expired" in response.json()["error"]["message"]


def test_rejected_requests_book_no_usage(gateway: Gateway, http: httpx.Client) -> None:
    key = gateway.new_key("nothing-booked")
    headers = {"Authorization": f"Bearer {key}"}
    for body in (
        b"{",
        json.dumps({**VALID, "n": 0}).encode(),
        json.dumps({**VALID, "model": "x"}).encode(),
    ):
        assert http.post(CHAT, content=body, headers=headers).status_code in (400, 404)
    assert gateway.usage("--account", "nothing-booked") == []


def test_health_metrics_and_unknown_routes(gateway: Gateway, http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "tokenward_requests_total" in metrics.text
    assert "tokenward_tokens_total" in metrics.text
    assert "tokenward_request_duration_seconds_bucket" in metrics.text
    missing = http.get("/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert "x-request-id" in missing.headers


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "bogus"]) | JSON_SCALARS},
        optional={"content": st.text(max_size=40) | JSON_VALUES, "name": JSON_SCALARS},
    ),
    max_size=3,
)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["sim-small", "sim-embed", "nope", ""]) | JSON_SCALARS,
        "messages": MESSAGES | JSON_VALUES,
        "stream": st.booleans() | JSON_SCALARS,
        "n": st.integers(-2, 20) | JSON_SCALARS,
        "max_tokens": st.integers(-5, 10**7) | JSON_SCALARS,
        "temperature": JSON_SCALARS,
        "stream_options": st.fixed_dictionaries({"include_usage": JSON_SCALARS}) | JSON_SCALARS,
        "tools": JSON_VALUES,
        "input": JSON_VALUES,
        "metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    },
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, route=st.sampled_from([CHAT, "/v1/embeddings"]), raw=st.booleans())
def test_generated_bodies_never_get_a_5xx(
    http: httpx.Client, key: str, body: dict[str, Any], route: str, raw: bool
) -> None:
    content = _encode(body) if not raw else _encode(body)[:-1]
    response = http.post(route, content=content, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "code", "param"}
