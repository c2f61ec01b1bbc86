"""`/admin/plans` and `/admin/subscriptions`: the plan catalogue and subscriptions.

- `GET /admin/plans`: every plan with the version in force and its seats;
- `POST /admin/plans`: body = a plan definition (`plans.model.PLAN_FIELDS`), 201;
- `GET /admin/plans/{name}`: one plan with its version history;
- `POST /admin/plans/{name}/reprice`: body = the fields to change, plus an optional
  `effective_from` (ISO 8601 with a zone; default now), 201 with the new version;
- `GET /admin/plans/{name}/waitlist`: the waitlist in order;
- `POST /admin/subscriptions` `{account, plan, period}`: 201, active or waitlisted
  (`status`, `position` and `note` say which and why);
- `DELETE /admin/subscriptions/{account}`: cancel now, no refund; answers the
  canceled subscription and the waiters it let in.

Same service functions as `tokenward plans`; each store call runs on a thread.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tokenward.api.admin_common import AdminWrap
from tokenward.errors import InvalidRequest
from tokenward.plans import (
    cancel,
    create_plan,
    get_plan,
    list_plans,
    reprice_plan,
    subscribe,
    waitlist,
)
from tokenward.providers.dialects import parse_json_object
from tokenward.services import Services


def _effective(body: dict[str, Any]) -> datetime | None:
    value = body.pop("effective_from", None)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            "'effective_from' must be an ISO 8601 time", param="effective_from"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(
            "'effective_from' must carry a time zone (e.g. Z)", param="effective_from"
        )
    return parsed


def _name(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{field}' must be a non-empty string", param=field)
    return value


def build_routes(services: Services, admin: AdminWrap) -> list[Route]:
    """Routes bound to one `Services` bundle; `admin` wraps a handler with the key check."""
    store, clock = services.store, services.clock

    async def plans_list(request: Request) -> Any:
        infos = await asyncio.to_thread(partial(list_plans, clock=clock), store)
        return [info.as_dict() for info in infos]

    async def plans_create(request: Request) -> Any:
        body = parse_json_object(await request.body())
        call = partial(create_plan, clock=clock, actor=request.state.actor)
        return (await asyncio.to_thread(call, store, body)).as_dict(history=True)

    async def plans_show(request: Request) -> Any:
        call = partial(get_plan, clock=clock)
        info = await asyncio.to_thread(call, store, request.path_params["name"])
        return info.as_dict(history=True)

    async def plans_reprice(request: Request) -> Any:
        body = parse_json_object(await request.body())
        call = partial(
            reprice_plan, effective_from=_effective(body), clock=clock, actor=request.state.actor
        )
        info = await asyncio.to_thread(call, store, request.path_params["name"], body)
        return info.as_dict(history=True)

    async def plans_waitlist(request: Request) -> Any:
        subs = await asyncio.to_thread(waitlist, store, request.path_params["name"])
        return [s.as_dict() for s in subs]

    async def subscriptions_create(request: Request) -> Any:
        body = parse_json_object(await request.body())
        period = body.get("period", "month")
        call = partial(subscribe, clock=clock, actor=request.state.actor)
        sub = await asyncio.to_thread(
            call, store, _name(body, "account"), _name(body, "plan"), period
        )
        return sub.as_dict()

    async def subscriptions_cancel(request: Request) -> Any:
        call = partial(cancel, clock=clock, actor=request.state.actor)
        done = await asyncio.to_thread(call, store, request.path_params["account"])
        return done.as_dict()

    return [
        Route("/admin/plans", admin(plans_list), methods=["GET"]),
        Route("/admin/plans", admin(plans_create, 201), methods=["POST"]),
        Route("/admin/plans/{name}", admin(plans_show), methods=["GET"]),
        Route("/admin/plans/{name}/reprice", admin(plans_reprice, 201), methods=["POST"]),
        Route("/admin/plans/{name}/waitlist", admin(plans_waitlist), methods=["GET"]),
        Route("/admin/subscriptions", admin(subscriptions_create, 201), methods=["POST"]),
        Route("/admin/subscriptions/{account}", admin(subscriptions_cancel), methods=["DELETE"]),
    ]


__all__ = ["build_routes"]
