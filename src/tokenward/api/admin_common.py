"""What every `/admin/` route module shares: the admin wrapper type and body helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Any]]


class AdminWrap(Protocol):
    """Wraps a handler: checks the admin key, sets `request.state.actor`, renders the
    handler's return value as JSON with `status`, and errors in the OpenAI dialect."""

    def __call__(self, handler: Handler, status: int = 200) -> Endpoint: ...


__all__ = ["AdminWrap", "Endpoint", "Handler"]
