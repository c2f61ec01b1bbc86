"""`/admin/prices` over HTTP, on a real gateway process (admin key only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ADMIN_KEY, Gateway, Simulator, make_gateway
from tests.pricing.conftest import doc, mod, ver


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    # no upstream is called: the admin routes only need the gateway and its database
    upstream = Simulator(process=None, url="http://127.0.0.1:9", journal_path=Path("unused"))  # type: ignore[arg-type]
    gateway: Gateway = make_gateway(tmp_path_factory.mktemp("prices-gw"), upstream)
    gateway.start()
    try:
        with httpx.Client(
            base_url=gateway.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as client:
            yield client
    finally:
        gateway.stop()


def test_publish_list_and_export_prices(admin: httpx.Client) -> None:
    document = doc("acme", "USD", ver("2025-01-01T00:00:00Z", mod("acme-chat", input="2.50")))
    created = admin.post("/admin/prices", json=document)
    assert created.status_code == 201, created.text
    assert [v["id"] for v in created.json()["created"]] == ["acme@2025-01-01"]
    again = admin.post("/admin/prices", json=document)
    assert again.status_code == 201 and again.json() == {
        "created": [],
        "unchanged": ["acme@2025-01-01"],
    }

    listed = admin.get("/admin/prices", params={"book": "acme", "at": "2026-01-01T00:00:00Z"})
    assert listed.status_code == 200
    assert listed.json()[0]["models"][0] == {
        "model": "acme-chat",
        "input": "2.50",
        "output": "8",
        "source": "test",
    }
    assert (
        admin.get("/admin/prices", params={"book": "acme", "at": "2024-01-01T00:00:00Z"}).json()
        == []
    )

    exported = admin.get("/admin/prices/export", params={"book": "acme", "format": "json"})
    assert exported.json()["books"][0]["versions"][0]["models"][0]["input"] == "2.50"
    toml = admin.get("/admin/prices/export", params={"book": "acme", "format": "toml"})
    assert toml.headers["content-type"].startswith("application/toml")
    assert 'input = "2.50"' in toml.text
    csv = admin.get("/admin/prices/export", params={"format": "csv", "book": "acme"})
    assert csv.headers["content-type"].startswith("text/csv") and "acme-chat,input,2.50" in csv.text


def test_admin_price_errors_are_clean(admin: httpx.Client) -> None:
    changed = doc("acme2", "USD", ver("2025-01-01T00:00:00Z", mod("m", input="1")))
    assert admin.post("/admin/prices", json=changed).status_code == 201
    changed["books"][0]["versions"][0]["models"][0]["input"] = "2"
    conflict = admin.post("/admin/prices", json=changed)
    assert conflict.status_code == 409 and "immutable" in conflict.json()["error"]["message"]
    floats = doc("b", "USD", ver("2025-01-01T00:00:00Z", mod("m2", input=0.5)))
    assert admin.post("/admin/prices", json=floats).status_code == 400
    assert admin.post("/admin/prices", content=b"{").status_code == 400
    assert admin.get("/admin/prices/export", params={"format": "xml"}).status_code == 400
    assert admin.get("/admin/prices", params={"at": "noon"}).status_code == 400
    anonymous = httpx.get(f"{admin.base_url}/admin/prices", timeout=30)
    assert anonymous.status_code == 401
