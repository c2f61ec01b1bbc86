"""`/admin/` routes of the billing concern: prepaid credit and the ledger check.

- `POST /admin/credits/grant` {account, amount (decimal string), currency, memo?}:
  201 with the account's new balance in that currency;
- `GET /admin/credits/{account}`: its balances, one per currency (decimal strings);
- `GET /admin/ledger/check`: the `tokenward ledger check` report (200 even when it
  finds problems: the report says `ok: false` and lists them).

Same service functions as `tokenward credits` and `tokenward ledger`.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tokenward.api.admin_common import AdminWrap
from tokenward.errors import InvalidRequest
from tokenward.ledger.check import check_ledger
from tokenward.ledger.credits import balances, grant
from tokenward.providers.dialects import parse_json_object
from tokenward.services import Services


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or (not value and default is None):
        raise InvalidRequest(f"'{name}' must be a non-empty string", param=name)
    return value


def build_routes(services: Services, admin: AdminWrap) -> list[Route]:
    """Routes bound to one `Services` bundle; `admin` wraps a handler with the key check."""
    store, clock = services.store, services.clock

    async def credits_grant(request: Request) -> Any:
        body = parse_json_object(await request.body())
        call = partial(
            grant,
            store,
            _text(body, "account"),
            body.get("amount"),  # parse_amount refuses floats, so 1.5 must be "1.5"
            _text(body, "currency", "USD"),
            clock=clock,
            actor=request.state.actor,
            memo=_text(body, "memo", ""),
        )
        return (await asyncio.to_thread(call)).as_dict()

    async def credits_show(request: Request) -> Any:
        found = await asyncio.to_thread(balances, store, request.path_params["account"])
        return [b.as_dict() for b in found]

    async def ledger_check(request: Request) -> Any:
        return (await asyncio.to_thread(check_ledger, store)).as_dict()

    return [
        Route("/admin/credits/grant", admin(credits_grant, 201), methods=["POST"]),
        Route("/admin/credits/{account}", admin(credits_show), methods=["GET"]),
        Route("/admin/ledger/check", admin(ledger_check), methods=["GET"]),
    ]


__all__ = ["build_routes"]
