"""TokenwardError -> the route's error dialect. The only place errors become HTTP.

OpenAI: {"error": {"message", "type", "code", "param"}}
Anthropic: {"type": "error", "error": {"type", "message"}}
Anything unexpected becomes a generic 500 with the request id: never a traceback.
"""

from __future__ import annotations

import math
from enum import Enum

import orjson

from tokenward.errors import LimiterUnavailable, RateLimited, TokenwardError, UpstreamRateLimited


class Dialect(Enum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_response(
    exc: BaseException, dialect: Dialect, request_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, extra headers and body for an error raised while serving a request."""
    if isinstance(exc, TokenwardError):
        status, message, code, kind, param = exc.status, exc.message, exc.code, exc.type, exc.param
    else:
        status, code, kind, param = 500, "internal_error", "api_error", None
        message = f"Internal error; quote request id {request_id} when reporting it."
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if isinstance(exc, RateLimited | UpstreamRateLimited | LimiterUnavailable):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    if dialect is Dialect.ANTHROPIC:
        body = {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": message},
        }
    else:
        body = {"error": {"message": message, "type": kind, "code": code, "param": param}}
    return status, headers, orjson.dumps(body)


__all__ = ["Dialect", "error_response"]
