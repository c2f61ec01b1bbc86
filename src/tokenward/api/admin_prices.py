"""`/admin/prices`: list the versions in force, publish a price document, export.

- `GET /admin/prices?book=&at=`: the version of each book in force at `at` (ISO 8601,
  default now), with its model prices;
- `POST /admin/prices`: body = a price document in the JSON shape (`pricing.document`);
  answers 201 with `{"created": [versions], "unchanged": [ids]}`;
- `GET /admin/prices/export?format=json|toml|csv&book=`: every published version as
  a document that imports back identically (JSON as a JSON body, TOML and CSV as text).

Same service functions as `tokenward prices`; the store is synchronous, so each call
runs on a thread.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.api.admin_common import AdminWrap, Endpoint, Handler
from tokenward.errors import InvalidRequest
from tokenward.pricing import (
    check_format,
    export_text,
    import_prices,
    list_in_force,
    version_dict,
)
from tokenward.pricing.document import parse_time
from tokenward.services import Services

_MEDIA_TYPES = {
    "toml": "application/toml; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


def _book(request: Request) -> str | None:
    book = request.query_params.get("book")
    return book or None


def build_routes(services: Services, admin: AdminWrap) -> list[Route]:
    """Routes bound to one `Services` bundle; `admin` wraps a handler with the key check."""
    store, clock = services.store, services.clock

    async def prices_list(request: Request) -> Any:
        raw_at = request.query_params.get("at")
        at = parse_time(raw_at, "at") if raw_at else clock.now()
        versions = await asyncio.to_thread(list_in_force, store, at, _book(request))
        return [version_dict(v) for v in versions]

    async def prices_publish(request: Request) -> Any:
        try:
            document = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidRequest("the body must be a JSON price document") from None
        call = partial(import_prices, clock=clock, actor=request.state.actor)
        result = await asyncio.to_thread(call, store, document)
        return result.as_dict()

    async def prices_export(request: Request) -> Any:
        fmt = check_format(request.query_params.get("format", "json"))
        text = await asyncio.to_thread(export_text, store, fmt, _book(request))
        # JSON is returned as the document itself; TOML and CSV as text (see `_as_text`)
        return orjson.loads(text) if fmt == "json" else text

    return [
        Route("/admin/prices", admin(prices_list), methods=["GET"]),
        Route("/admin/prices", admin(prices_publish, 201), methods=["POST"]),
        Route("/admin/prices/export", _as_text(admin, prices_export), methods=["GET"]),
    ]


def _as_text(admin: AdminWrap, handler: Handler) -> Endpoint:
    """The admin endpoint, with a TOML or CSV answer sent as text, not a JSON string.

    The admin wrapper renders every answer as JSON; a successful TOML or CSV export
    is unwrapped from its JSON string here, so errors keep the wrapper's one shape.
    """
    wrapped = admin(handler)

    async def endpoint(request: Request) -> Response:
        response = await wrapped(request)
        media_type = _MEDIA_TYPES.get(request.query_params.get("format", "json"))
        if response.status_code != 200 or media_type is None:
            return response
        return Response(orjson.loads(bytes(response.body)), media_type=media_type)

    return endpoint


__all__ = ["build_routes"]
