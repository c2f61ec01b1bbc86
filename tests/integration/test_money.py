"""The money path end to end: real gateways, the simulator upstream, SQLite and PostgreSQL.

Prices come from the shipped default book (its demo prices for the simulator's
models), credit from `/admin/credits/grant`, plans from `/admin/plans`; every test
ends with `/admin/ledger/check` clean and the invoice equal to the sum of its events.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.conftest import ADMIN_KEY, Gateway, Simulator, make_gateway
from tokenward.metering import estimate_prompt_tokens

pytestmark = pytest.mark.slow

#: long words: the gateway's estimate (chars / 4) is above the simulator's count (one
#: token per word), so a worst-case hold is never below the exact cost
PROMPT = "internationalization " * 10
MESSAGES = [{"role": "user", "content": PROMPT}]
#: the demo book's sim-small prices, per million tokens (pricing/data/default.toml)
SIM_SMALL_IN, SIM_SMALL_OUT = Decimal("0.10"), Decimal("0.40")
MAX_TOKENS = 1000


def worst_case() -> Decimal:
    """What the gateway holds for one request: estimate + max_tokens at list price."""
    exact = (estimate_prompt_tokens(MESSAGES) * SIM_SMALL_IN + MAX_TOKENS * SIM_SMALL_OUT) / (10**6)
    return Decimal(math.ceil(exact * 10**6)) / 10**6


def admin_client(gateway: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )


def open_account(admin: httpx.Client, name: str, billing: str) -> str:
    created = admin.post("/admin/accounts", json={"name": name, "billing": billing})
    assert created.status_code == 201, created.text
    key = admin.post("/admin/keys", json={"account": name, "name": "app"})
    assert key.status_code == 201, key.text
    plaintext: str = key.json()["key"]
    return plaintext


def ledger_is_clean(admin: httpx.Client) -> None:
    report = admin.get("/admin/ledger/check")
    assert report.status_code == 200, report.text
    assert report.json()["ok"] is True, report.json()


def account_costs(admin: httpx.Client, account: str) -> Decimal:
    rows = admin.get("/admin/usage", params={"account": account}).json()
    return sum((Decimal(row["cost"]) for row in rows), Decimal(0))


@pytest.fixture
def money_gateway(tmp_path: Path, simulator: Simulator, database_url: str) -> Iterator[Gateway]:
    gateway = make_gateway(tmp_path, simulator, TOKENWARD_DATABASE_URL=database_url)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_a_fresh_gateway_prices_usage_and_invoices_it(money_gateway: Gateway) -> None:
    with admin_client(money_gateway) as admin:
        key = open_account(admin, "postpaid-co", "postpaid")
        client = openai.OpenAI(api_key=key, base_url=f"{money_gateway.url}/v1", max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="sim-small", messages=MESSAGES, max_tokens=20)
        client.chat.completions.create(model="sim-large", messages=MESSAGES, max_tokens=20)
        rows = admin.get("/admin/usage", params={"account": "postpaid-co", "by": "model"}).json()
        assert {r["model"]: r["currency"] for r in rows} == {"sim-large": "USD", "sim-small": "USD"}
        total = sum((Decimal(r["cost"]) for r in rows), Decimal(0))
        assert total > 0
        period = f"{datetime.now(UTC):%Y-%m}"
        invoice = admin.get(
            "/admin/invoices", params={"account": "postpaid-co", "period": period}
        ).json()
        assert invoice["currency"] == "USD"
        assert Decimal(invoice["total"]) == total  # the sum of stored event costs, exactly
        ledger_is_clean(admin)


def test_fifty_concurrent_requests_cannot_overspend_a_balance_for_ten(
    money_gateway: Gateway,
) -> None:
    """R-CR-1: holds are worst cases, so at most 10 run and the balance never goes below 0."""
    hold = worst_case()
    grant = hold * 10
    with admin_client(money_gateway) as admin:
        key = open_account(admin, "prepaid-co", "prepaid")
        granted = admin.post(
            "/admin/credits/grant",
            json={"account": "prepaid-co", "amount": str(grant), "currency": "USD"},
        )
        assert granted.status_code == 201, granted.text

        async def burst() -> list[int]:
            client = openai.AsyncOpenAI(
                api_key=key, base_url=f"{money_gateway.url}/v1", max_retries=0, timeout=60
            )

            async def one() -> int:
                try:
                    await client.chat.completions.create(
                        model="sim-small",
                        messages=MESSAGES,  # type: ignore[arg-type]
                        max_tokens=MAX_TOKENS,
                        # every request produces its full max_tokens, slowly: all 50 overlap
                        metadata={"sim_output_tokens": str(MAX_TOKENS), "sim_chunk_delay_ms": "20"},
                    )
                    return 200
                except openai.APIStatusError as exc:
                    assert exc.status_code == 402, exc
                    assert "insufficient credit" in exc.message
                    return 402

            try:
                return await asyncio.gather(*(one() for _ in range(50)))
            finally:
                await client.close()

        statuses = asyncio.run(burst())
        assert statuses.count(200) == 10 and statuses.count(402) == 40
        balance = admin.get("/admin/credits/prepaid-co").json()
        usd = next(b for b in balance if b["currency"] == "USD")
        spent = account_costs(admin, "prepaid-co")
        assert spent <= grant
        assert Decimal(usd["available"]) == grant - spent >= 0
        assert Decimal(usd["reserved"]) == 0  # every hold settled
        ledger_is_clean(admin)


def test_a_plan_quota_refuses_with_retry_after_and_limits_models(
    money_gateway: Gateway,
) -> None:
    with admin_client(money_gateway) as admin:
        plan = admin.post(
            "/admin/plans",
            json={
                "name": "starter",
                "currency": "USD",
                "price": "9.00",
                "quotas": [{"window": "5h", "unit": "requests", "limit": 3}],
                "models": ["sim-small"],
            },
        )
        assert plan.status_code == 201, plan.text
        key = open_account(admin, "subscriber", "postpaid")
        subscribed = admin.post(
            "/admin/subscriptions", json={"account": "subscriber", "plan": "starter"}
        )
        assert subscribed.status_code == 201, subscribed.text
        client = openai.OpenAI(api_key=key, base_url=f"{money_gateway.url}/v1", max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="sim-small", messages=MESSAGES, max_tokens=5)
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model="sim-small", messages=MESSAGES, max_tokens=5)
        retry_after = int(refused.value.response.headers["retry-after"])
        assert 5 * 3600 - 60 <= retry_after <= 5 * 3600
        assert "quota of plan starter" in refused.value.message
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="sim-large", messages=MESSAGES, max_tokens=5)
        rows: list[dict[str, Any]] = admin.get(
            "/admin/usage", params={"account": "subscriber"}
        ).json()
        assert rows[0]["requests"] == 3
        ledger_is_clean(admin)


def test_failures_and_disconnects_leave_no_credit_held(money_gateway: Gateway) -> None:
    """R-CR-2 in small: upstream errors, broken streams and clients that hang up
    mid-stream all give their holds back; balance = grant - the sum of event costs."""
    with admin_client(money_gateway) as admin:
        key = open_account(admin, "flaky-co", "prepaid")
        granted = admin.post(
            "/admin/credits/grant",
            json={"account": "flaky-co", "amount": "5.00", "currency": "USD"},
        )
        assert granted.status_code == 201, granted.text
        headers = {"Authorization": f"Bearer {key}"}

        def body(stream: bool, **metadata: str) -> dict[str, Any]:
            return {
                "model": "sim-small",
                "messages": MESSAGES,
                "max_tokens": 200,
                "stream": stream,
                "metadata": {"sim_output_tokens": "120", "sim_chunk_delay_ms": "5", **metadata},
            }

        statuses = []
        with httpx.Client(base_url=money_gateway.url, timeout=30, headers=headers) as client:
            for fault in ("error", "overloaded"):
                reply = client.post("/v1/chat/completions", json=body(False, sim_fault=fault))
                statuses.append(reply.status_code)
            broken = client.post("/v1/chat/completions", json=body(True, sim_fault="broken"))
            statuses.append(broken.status_code)
            for _ in range(3):  # read a few chunks, then hang up
                with client.stream("POST", "/v1/chat/completions", json=body(True)) as r:
                    for n, _line in enumerate(r.iter_lines()):
                        if n == 3:
                            break
            ok = client.post("/v1/chat/completions", json=body(False))
            statuses.append(ok.status_code)
        assert statuses[-1] == 200 and all(s < 500 or s in (502, 503, 504) for s in statuses)

        def settled() -> bool:
            usd = next(b for b in admin.get("/admin/credits/flaky-co").json())
            return Decimal(usd["reserved"]) == 0

        deadline = time.monotonic() + 15  # drained streams settle after the client left
        while not settled() and time.monotonic() < deadline:
            time.sleep(0.2)
        usd = next(b for b in admin.get("/admin/credits/flaky-co").json())
        assert Decimal(usd["reserved"]) == 0
        spent = account_costs(admin, "flaky-co")
        assert spent > 0 and Decimal(usd["available"]) == Decimal("5.00") - spent
        ledger_is_clean(admin)


def test_requests_refused_for_credit_consume_no_rate_limit(money_gateway: Gateway) -> None:
    """R-LIM-6 across stages: a 402 after the rate limits admitted the request undoes
    that admission, so a key limited to 2 requests/min still gets 2 once it has credit."""
    with admin_client(money_gateway) as admin:
        created = admin.post("/admin/accounts", json={"name": "broke-co", "billing": "prepaid"})
        assert created.status_code == 201, created.text
        key = admin.post("/admin/keys", json={"account": "broke-co", "rpm": 2})
        assert key.status_code == 201, key.text
        time.sleep(1.1)  # the rules cache of the gateway (0.5 s)
        client = openai.OpenAI(
            api_key=key.json()["key"], base_url=f"{money_gateway.url}/v1", max_retries=0
        )

        def ask() -> int:
            try:
                client.chat.completions.create(model="sim-small", messages=MESSAGES, max_tokens=5)
                return 200
            except openai.APIStatusError as exc:
                return exc.status_code

        assert [ask() for _ in range(4)] == [402, 402, 402, 402]
        granted = admin.post(
            "/admin/credits/grant",
            json={"account": "broke-co", "amount": "1.00", "currency": "USD"},
        )
        assert granted.status_code == 201, granted.text
        assert [ask() for _ in range(3)] == [200, 200, 429]
        ledger_is_clean(admin)
