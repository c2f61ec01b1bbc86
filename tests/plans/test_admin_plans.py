"""The /admin/plans and /admin/subscriptions routes, through an ASGI app in process.

The admin wrapper here stands in for the gateway's (key check aside): it renders a
handler's value as JSON and a Tokenward error with its status, as the real one does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers.admin import keyless_admin
from tokenward.api import admin_plans
from tokenward.audit import AuditLog
from tokenward.clock import FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.services import Services
from tokenward.storage import Store, migrate

from .support import START, accounts, fees

admin = keyless_admin("key_test")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store, FakeClock]]:
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'admin.db'}"))
    migrate(store)
    clock = FakeClock(START)
    services = cast(Services, SimpleNamespace(store=store, clock=clock))
    app = Starlette(routes=admin_plans.build_routes(services, admin))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, store, clock
    store.close()


PLAN: dict[str, Any] = {
    "name": "pro",
    "currency": "USD",
    "price": "20",
    "periods": {"month": "0", "year": "20"},
    "quotas": [{"window": "5h", "unit": "requests", "limit": 100}],
    "max_subscribers": 1,
}


@pytest.mark.anyio
async def test_plans_and_subscriptions_over_http(
    client: tuple[httpx.AsyncClient, Store, FakeClock],
) -> None:
    http, store, clock = client
    accounts(store, clock, "a", "b")
    created = await http.post("/admin/plans", json=PLAN)
    assert created.status_code == 201 and created.json()["version_id"] == "pro@v1"
    assert [p["name"] for p in (await http.get("/admin/plans")).json()] == ["pro"]

    sub = await http.post("/admin/subscriptions", json={"account": "a", "plan": "pro"})
    assert sub.status_code == 201 and sub.json()["status"] == "active"
    year = {"account": "b", "plan": "pro", "period": "year"}
    waiting = (await http.post("/admin/subscriptions", json=year)).json()
    assert (waiting["status"], waiting["position"]) == ("waitlisted", 1)
    listed = (await http.get("/admin/plans/pro/waitlist")).json()
    assert [w["account"] for w in listed] == ["b"]

    clock.advance(60)
    later = "2026-02-01T00:00:00Z"
    repriced = await http.post(
        "/admin/plans/pro/reprice", json={"price": "25", "effective_from": later}
    )
    assert repriced.status_code == 201
    assert [v["price"] for v in repriced.json()["versions"]] == ["20.000000", "25.000000"]
    shown = (await http.get("/admin/plans/pro")).json()
    assert (shown["version"], shown["active"], shown["waitlisted"]) == (1, 1, 1)

    done = await http.delete("/admin/subscriptions/a")
    assert done.status_code == 200
    assert done.json()["canceled"]["status"] == "canceled"
    assert [p["account"] for p in done.json()["promoted"]] == ["b"]
    assert fees(store)[-1]["price"] == "192.000000"  # 20 x 12 x 0.8, before the reprice
    audited = [(r.actor, r.action, r.target) for r in AuditLog(store, clock).records()]
    assert audited[-5:] == [
        ("key_test", "plan.create", "pro"),
        ("key_test", "plan.subscribe", "a"),
        ("key_test", "plan.subscribe", "b"),
        ("key_test", "plan.reprice", "pro"),
        ("key_test", "plan.cancel", "a"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/admin/plans", {**PLAN, "price": -1}, 400, "must not be negative"),
        ("POST", "/admin/plans", {**PLAN, "currency": "ZZZ"}, 400, "unknown currency"),
        ("GET", "/admin/plans/nope", None, 404, "unknown plan 'nope'"),
        ("GET", "/admin/plans/nope/waitlist", None, 404, "unknown plan 'nope'"),
        ("POST", "/admin/plans/pro/reprice", {"effective_from": "soon"}, 400, "ISO 8601"),
        ("POST", "/admin/plans/pro/reprice", {"price": 1.5}, 400, "not a float"),
        ("POST", "/admin/plans", PLAN, 409, "already exists"),
        ("POST", "/admin/subscriptions", {"plan": "pro"}, 400, "'account' must be"),
        ("POST", "/admin/subscriptions", {"account": "a", "plan": "pro", "period": []}, 400, ""),
        ("POST", "/admin/subscriptions", {"account": "zz", "plan": "pro"}, 404, "unknown account"),
        ("DELETE", "/admin/subscriptions/a", None, 404, "no active or waitlisted subscription"),
    ],
)
async def test_bad_requests_get_clean_errors(
    client: tuple[httpx.AsyncClient, Store, FakeClock],
    method: str,
    path: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    http, store, clock = client
    accounts(store, clock, "a")
    assert (await http.post("/admin/plans", json=PLAN)).status_code == 201
    answer = await http.request(method, path, json=body)
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]
