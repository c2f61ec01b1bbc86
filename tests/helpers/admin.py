"""An in-process stand-in for the gateway's `/admin` wrapper, for route-module tests.

It skips the key check (the real one is tested over HTTP) but renders answers and
errors the way the gateway does: JSON, with the error's status and code.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tokenward.api.admin_common import Endpoint, Handler
from tokenward.errors import TokenwardError


def keyless_admin(actor: str) -> Callable[..., Endpoint]:
    """An `AdminWrap` that records `actor` as the caller of every request."""

    def admin(handler: Handler, status: int = 200) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            request.state.actor = actor
            try:
                body, code = await handler(request), status
            except TokenwardError as exc:
                body, code = {"error": {"message": exc.message, "code": exc.code}}, exc.status
            return Response(orjson.dumps(body, default=str), code, media_type="application/json")

        return endpoint

    return admin


__all__ = ["keyless_admin"]
