"""`check_ledger` finds each kind of inconsistency; the /admin billing routes over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from tests.helpers.admin import keyless_admin
from tokenward.api import admin_billing
from tokenward.auth import create_account
from tokenward.clock import FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.ledger.check import MAX_LISTED, check_ledger
from tokenward.ledger.credits import grant, reserve_credit
from tokenward.ledger.double_entry import ensure_accounts
from tokenward.services import Services
from tokenward.storage import Store, migrate
from tokenward.storage.tables_ledger import (
    credit_reservations,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
)


def test_a_clean_ledger_and_each_kind_of_problem(store: Store) -> None:
    clock = FakeClock()
    acme = create_account(store, "acme", "prepaid", clock=clock).id
    assert check_ledger(store).as_dict() == {
        "ok": True,
        "transactions": 0,
        "entries": 0,
        "accounts": 0,
        "open_holds": 0,
        "problems": [],
    }
    grant(store, acme, "1", "USD", clock=clock, actor="t")
    hold = reserve_credit(
        store,
        account_id=acme,
        request_id="r1",
        amount=10_000,
        currency="USD",
        at=clock.now(),
        lease_s=60,
    )
    report = check_ledger(store)
    assert report.ok and (report.transactions, report.entries, report.open_holds) == (2, 4, 1)

    now = clock.now()
    with store.transaction(write=True) as conn:  # damage it in every way it can be damaged
        ensure_accounts(conn, ["credit:x:EUR"], "EUR", now)
        conn.execute(
            ledger_transactions.insert(),
            [
                {"id": "bad:1", "kind": "usage", "currency": "USD", "at": now},
                {"id": "bad:2", "kind": "usage", "currency": "USD", "at": now},
            ],
        )
        entries = [
            ("bad:1", f"credit:{acme}:USD", "debit", 5),
            ("bad:2", "credit:x:EUR", "debit", 7),
            ("bad:2", f"credit:{acme}:USD", "credit", 7),
        ]
        conn.execute(
            ledger_entries.insert(),
            [
                {"transaction_id": t, "ledger_account": a, "direction": d, "amount": n}
                for t, a, d, n in entries
            ],
        )
        conn.execute(  # the hold's row vanishes without its release
            credit_reservations.delete().where(credit_reservations.c.id == hold.id)
        )
        conn.execute(  # and a reserved balance below zero
            update(ledger_accounts)
            .where(ledger_accounts.c.id == f"reserved:{acme}:USD")
            .values(debits_posted=ledger_accounts.c.credits_posted + 1)
        )
    problems = check_ledger(store).problems
    assert problems == (
        "transaction bad:1 does not balance: debits 5 != credits 0",
        "transaction bad:1 has 1 entries (needs at least 2)",
        "transaction bad:2 has 1 entries in another currency",
        f"account credit:{acme}:USD: stored totals debits 10000 / credits 1000000"
        " != entries debits 10005 / credits 1000007",
        "account credit:x:EUR: stored totals debits 0 / credits 0 != entries debits 7 / credits 0",
        f"account reserved:{acme}:USD: stored totals debits 10001 / credits 10000"
        " != entries debits 0 / credits 10000",
        f"account reserved:{acme}:USD is below zero: -0.000001 USD",
        f"account reserved:{acme}:USD holds -0.000001 USD but the open holds add up to"
        " 0.000000 USD",
    )


def test_long_lists_of_problems_are_capped(store: Store) -> None:
    now = FakeClock().now()
    with store.transaction(write=True) as conn:
        conn.execute(
            ledger_transactions.insert(),
            [{"id": f"t{i:03}", "kind": "x", "currency": "USD", "at": now} for i in range(60)],
        )
    problems = check_ledger(store).problems
    assert len(problems) == MAX_LISTED + 1 and problems[-1] == "... and 10 more like the above"


_admin = keyless_admin("key_admin")


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = Store.connect(DatabaseSettings(url=f"sqlite:///{tmp_path / 'admin.db'}"))
    migrate(store)
    clock = FakeClock()
    create_account(store, "acme", "prepaid", clock=clock)
    services = cast(Services, SimpleNamespace(store=store, clock=clock))
    app = Starlette(routes=admin_billing.build_routes(services, _admin))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client
    store.close()


@pytest.mark.anyio
async def test_admin_billing_routes(http: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {"account": "acme", "amount": "12.50", "currency": "EUR"}
    granted = await http.post("/admin/credits/grant", json=body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["available"] == "12.500000" and granted.json()["currency"] == "EUR"
    shown = (await http.get("/admin/credits/acme")).json()
    assert [(b["currency"], b["granted"]) for b in shown] == [("EUR", "12.500000")]
    check = (await http.get("/admin/ledger/check")).json()
    assert check["ok"] is True and check["transactions"] == 1
    for bad, status, needle in [
        ({**body, "amount": 1.5}, 400, "not a float"),
        ({**body, "amount": "-1"}, 400, "must not be negative"),
        ({**body, "currency": "ZZZ"}, 400, "unknown currency"),
        ({**body, "account": "nope"}, 404, "unknown account"),
        ({"amount": "1"}, 400, "'account'"),
    ]:
        refused = await http.post("/admin/credits/grant", json=bad)
        assert refused.status_code == status and needle in refused.json()["error"]["message"]
    assert (await http.get("/admin/credits/nope")).status_code == 404
    assert (await http.get("/admin/ledger/check")).json()["transactions"] == 1
