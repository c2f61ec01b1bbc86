"""`/admin/*`: accounts, keys, limits and usage over HTTP, for admin keys only.

The same service functions as the CLI (`auth.service`, `limits.rules`,
`ledger.reports`); the store is synchronous, so each call runs on a thread. Errors
use the OpenAI dialect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.api import admin_billing, admin_invoices, admin_plans, admin_prices
from tokenward.api.errors import Dialect, error_response
from tokenward.api.transport import api_key_of
from tokenward.auth import (
    create_account,
    create_key,
    get_account,
    list_accounts,
    list_keys,
    revoke_key,
)
from tokenward.errors import InvalidRequest, TokenwardError
from tokenward.ledger import usage_report
from tokenward.limits import (
    delete_limits,
    list_limits,
    model_index,
    set_limits,
    validate_limits,
)
from tokenward.providers.dialects import parse_json_object
from tokenward.services import Services

Endpoint = Callable[[Request], Awaitable[Response]]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, default=str), status_code=status, media_type="application/json"
    )


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an ISO 8601 date or time", param=name) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(f"'{name}' must carry a time zone (e.g. Z)", param=name)
    return parsed


def _str(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{name}' must be a non-empty string", param=name)
    return value


def _opt_str(source: Any, name: str) -> str | None:
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{name}' must be a non-empty string", param=name)
    return value


def _limits_of(body: dict[str, Any]) -> dict[str, Any]:
    """The limit fields of a body; their values are checked by the service."""
    return {name: body.get(name) for name in ("rpm", "tpm", "tpd", "concurrency")}


def build_admin_routes(services: Services) -> list[Route]:
    """Routes bound to one `Services` bundle; every handler checks the admin key first."""
    store, clock = services.store, services.clock
    models = model_index(services.settings.models)

    def admin(handler: Callable[[Request], Awaitable[Any]], status: int = 200) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                principal = await services.authenticator.authenticate_admin(
                    api_key_of(request.scope)
                )
                request.state.actor = principal.key_id  # who, for the audit log
                return _json(await handler(request), status)
            except TokenwardError as exc:
                code, headers, body = error_response(exc, Dialect.OPENAI, "admin")
                return Response(
                    body, status_code=code, headers={k.decode(): v.decode() for k, v in headers}
                )

        return endpoint

    async def body_of(request: Request) -> dict[str, Any]:
        return parse_json_object(await request.body())

    async def accounts_list(request: Request) -> Any:
        return [a.as_dict() for a in await asyncio.to_thread(list_accounts, store)]

    async def accounts_create(request: Request) -> Any:
        body = await body_of(request)
        info = await asyncio.to_thread(
            create_account,
            store,
            _str(body, "name"),
            _str(body, "billing", "postpaid"),
            clock=clock,
            actor=request.state.actor,
        )
        return info.as_dict()

    async def accounts_show(request: Request) -> Any:
        return (await asyncio.to_thread(get_account, store, request.path_params["name"])).as_dict()

    async def keys_list(request: Request) -> Any:
        keys = await asyncio.to_thread(list_keys, store, request.query_params.get("account"))
        now = clock.now()
        return [k.as_dict(now) for k in keys]

    async def keys_create(request: Request) -> Any:
        body = await body_of(request)
        limits = _limits_of(body)
        limited = any(v is not None for v in limits.values())
        if limited:  # checked first, so bad limits never leave a key behind
            validate_limits(**limits)
        info, plaintext = await asyncio.to_thread(
            create_key,
            store,
            _str(body, "account"),
            _str(body, "name", "default"),
            _time(body.get("expires_at"), "expires_at"),
            _str(body, "role", "user"),
            clock=clock,
            actor=request.state.actor,
            tier=_opt_str(body, "tier") or "",
            tiers=services.settings.limits.tiers,
        )
        created = {**info.as_dict(clock.now()), "key": plaintext}
        if limited:
            rule = await asyncio.to_thread(
                partial(set_limits, actor=request.state.actor),
                store,
                key=info.id,
                clock=clock,
                **limits,
            )
            created["limits"] = rule.as_dict()
        return created

    async def keys_revoke(request: Request) -> Any:
        info = await asyncio.to_thread(
            revoke_key,
            store,
            request.path_params["ident"],
            clock=clock,
            actor=request.state.actor,
        )
        return info.as_dict(clock.now())

    async def limits_list(request: Request) -> Any:
        return [r.as_dict() for r in await asyncio.to_thread(list_limits, store)]

    def target_of(source: Any, request: Request) -> dict[str, Any]:
        """The rule a limits call names (key, account, plan, model), and who asks."""
        names = ("key", "account", "plan", "model")
        target = {name: _opt_str(source, name) for name in names}
        return {**target, "models": models, "clock": clock, "actor": request.state.actor}

    async def limits_set(request: Request) -> Any:
        body = await body_of(request)
        target = target_of(body, request)
        rule = await asyncio.to_thread(partial(set_limits, **target, **_limits_of(body)), store)
        return rule.as_dict()

    async def limits_delete(request: Request) -> Any:
        target = target_of(request.query_params, request)
        await asyncio.to_thread(partial(delete_limits, **target), store)
        return {"deleted": True}

    async def guard_scan(request: Request) -> Any:
        body = await body_of(request)
        role = body.get("role", "user")
        if role not in ("user", "assistant", "tool", "system"):
            raise InvalidRequest("'role' must be user, assistant, tool or system", param="role")
        found = await asyncio.to_thread(services.scanner.scan, _str(body, "text"), role=role)
        return {"findings": [f.as_dict() for f in found]}

    async def usage(request: Request) -> Any:
        query = request.query_params
        return await asyncio.to_thread(
            usage_report,
            store,
            query.get("account"),
            _time(query.get("since"), "since"),
            _time(query.get("until"), "until"),
            query.getlist("by"),
        )

    return [
        Route("/admin/accounts", admin(accounts_list), methods=["GET"]),
        Route("/admin/accounts", admin(accounts_create, 201), methods=["POST"]),
        Route("/admin/accounts/{name}", admin(accounts_show), methods=["GET"]),
        Route("/admin/keys", admin(keys_list), methods=["GET"]),
        Route("/admin/keys", admin(keys_create, 201), methods=["POST"]),
        Route("/admin/keys/{ident}/revoke", admin(keys_revoke), methods=["POST"]),
        Route("/admin/limits", admin(limits_list), methods=["GET"]),
        Route("/admin/limits", admin(limits_set), methods=["POST"]),
        Route("/admin/limits", admin(limits_delete), methods=["DELETE"]),
        Route("/admin/usage", admin(usage), methods=["GET"]),
        Route("/admin/guard/scan", admin(guard_scan), methods=["POST"]),
        *admin_prices.build_routes(services, admin),
        *admin_plans.build_routes(services, admin),
        *admin_billing.build_routes(services, admin),
        *admin_invoices.build_routes(services, admin),
    ]


__all__ = ["build_admin_routes"]
