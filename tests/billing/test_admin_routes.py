"""`GET /admin/invoices` and `POST /admin/reconcile` on a real gateway process."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from tests.billing.helpers import event
from tests.integration.conftest import ADMIN_KEY, Gateway, gateway, simulator
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.repos.event_sink import insert_batch

__all__ = ["gateway", "simulator"]  # the integration fixtures, used here too


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        created = client.post("/admin/accounts", json={"name": "inv-http"})
        assert created.status_code == 201, created.text
        url = f"sqlite:///{(gateway.home / 'tokenward.db').as_posix()}"
        with migrated_store(DatabaseSettings(url=url)) as store:
            acc = created.json()["id"]
            insert_batch(
                store,
                [
                    event("inv-1", acc, "0.5", deployment="prov/up-x"),
                    event("inv-2", acc, "0.25", deployment="prov/up-x"),
                ],
            )
        yield client


def test_invoices_in_each_format(admin: httpx.Client) -> None:
    query = {"account": "inv-http", "period": "2026-11"}
    doc = admin.get("/admin/invoices", params=query)
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("application/json")
    assert (doc.json()["total"], doc.json()["invoice_number"]) == (
        "0.750000",
        "TW-inv-http-202611-USD",
    )
    table = admin.get("/admin/invoices", params={**query, "format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(table.text)))[-1]["amount"] == "0.750000"
    page = admin.get("/admin/invoices", params={**query, "format": "html", "currency": "USD"})
    assert page.headers["content-type"].startswith("text/html") and "0.750000" in page.text


def test_invoice_errors(admin: httpx.Client, gateway: Gateway) -> None:
    base = {"account": "inv-http", "period": "2026-11"}
    assert admin.get("/admin/invoices", params={**base, "format": "pdf"}).status_code == 400
    assert admin.get("/admin/invoices", params={**base, "period": "2026"}).status_code == 400
    assert admin.get("/admin/invoices", params={"period": "2026-11"}).status_code == 400
    missing = admin.get("/admin/invoices", params={**base, "account": "nobody"})
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]["message"]
    anonymous = httpx.get(f"{gateway.url}/admin/invoices", params=base, timeout=30)
    assert anonymous.status_code == 401


def test_reconcile_over_http(admin: httpx.Client) -> None:
    export = "date,model,input_tokens,output_tokens\n2026-11-10,up-x,20,10\n"
    report = admin.post("/admin/reconcile", params={"provider": "prov"}, content=export)
    assert report.status_code == 200, report.text
    assert report.json()["ok"] is True and report.json()["summary"]["match"] == 1
    off = export.replace(",20,", ",21,")
    differs = admin.post("/admin/reconcile", params={"provider": "prov"}, content=off).json()
    assert differs["ok"] is False and differs["rows"][0]["status"] == "mismatch"
    bad = admin.post(
        "/admin/reconcile", params={"provider": "prov"}, content="date,model,input_tokens\nx,y,1\n"
    )
    assert bad.status_code == 400 and "line 2" in bad.json()["error"]["message"]
    assert admin.post("/admin/reconcile", content=export).status_code == 400
