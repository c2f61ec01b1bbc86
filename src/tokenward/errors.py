"""The one exception tree of Tokenward.

Grouped by what the caller can do about it. Every class carries its HTTP status,
its machine code and whether a retry may help; `api/errors.py` alone turns them into
OpenAI or Anthropic error bodies (no domain module knows about HTTP responses).

    TokenwardError
    ├── ConfigError                       operator must fix the config       (not HTTP)
    ├── ClientError                       caller must fix the request        4xx
    │   ├── InvalidRequest                400 malformed JSON, wrong types, out of range
    │   ├── AuthenticationFailed          401 missing / invalid / revoked / expired key
    │   ├── PermissionDenied              403 key may not do this
    │   ├── NotFound                      404 unknown account, key or route
    │   │   └── ModelNotFound             404 unknown model
    │   ├── RequestTooLarge               413 body over the configured limit
    │   └── RateLimited                   429 a limit or quota is exhausted (retry later)
    ├── UpstreamError                     the provider failed                5xx
    │   ├── UpstreamStatusError           502 provider answered with an error status
    │   │   ├── UpstreamRejected          400 provider refused the request as invalid
    │   │   └── UpstreamRateLimited       429 provider is rate limiting us
    │   ├── UpstreamConnectError          502 could not connect / connection dropped
    │   ├── UpstreamProtocolError         502 provider answered with something unparseable
    │   └── UpstreamTimeout               504 provider did not answer in time
    ├── StoreError                        the ledger store failed             503
    └── LimiterUnavailable                the limiter's store failed          503
"""

from __future__ import annotations

from typing import ClassVar


class TokenwardError(Exception):
    """Base of every error Tokenward raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    #: OpenAI error `type`; Anthropic's is derived from the status in api/errors.py
    type: ClassVar[str] = "api_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ConfigError(TokenwardError, ValueError):
    """The configuration is invalid; raised at start-up, never per request."""

    code = "config_error"


class ClientError(TokenwardError):
    """The request cannot be served as sent."""

    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class InvalidRequest(ClientError, ValueError):
    """Malformed JSON, wrong types, missing fields, values out of range."""


class AuthenticationFailed(ClientError):
    """No key, an unknown key, or a revoked or expired one."""

    status = 401
    code = "invalid_api_key"
    type = "authentication_error"


class PermissionDenied(ClientError):
    """The key is valid but may not do this."""

    status = 403
    code = "permission_denied"
    type = "permission_error"


class NotFound(ClientError, LookupError):
    """Unknown resource (account, key, route)."""

    status = 404
    code = "not_found"
    type = "not_found_error"


class ModelNotFound(NotFound):
    """The model does not exist or the key may not use it."""

    code = "model_not_found"


class RequestTooLarge(ClientError):
    """The body is over `server.max_body_bytes`."""

    status = 413
    code = "request_too_large"


class RateLimited(ClientError):
    """A limit or quota is exhausted; the caller may retry after `retry_after` seconds."""

    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"
    retryable = True

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientCredit(ClientError):
    """A prepaid account's credit cannot cover the request's worst-case cost."""

    status = 402
    code = "insufficient_credit"
    type = "insufficient_quota"


class Conflict(ClientError):
    """The request contradicts stored state (a full plan, a version that overlaps...)."""

    status = 409
    code = "conflict"


class UpstreamError(TokenwardError):
    """The provider could not serve the request; another deployment might."""

    status = 502
    code = "upstream_error"
    type = "api_error"
    retryable = True


class UpstreamStatusError(UpstreamError):
    """The provider answered with an error status."""

    def __init__(self, message: str, *, upstream_status: int) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class UpstreamRejected(UpstreamStatusError):
    """The provider called the request invalid (its 400/404/413/422): the caller must fix it."""

    status = 400
    code = "upstream_rejected"
    type = "invalid_request_error"
    retryable = False


class UpstreamRateLimited(UpstreamStatusError):
    """The provider answered 429; another deployment, or later, may succeed."""

    status = 429
    code = "upstream_rate_limited"
    type = "rate_limit_error"

    def __init__(self, message: str, *, upstream_status: int = 429, retry_after: float = 1.0):
        super().__init__(message, upstream_status=upstream_status)
        self.retry_after = retry_after


class UpstreamConnectError(UpstreamError, ConnectionError):
    """Could not connect to the provider, or the connection dropped."""

    code = "upstream_connect_error"


class UpstreamProtocolError(UpstreamError):
    """The provider answered with something we could not parse."""

    code = "upstream_protocol_error"
    retryable = False


class UpstreamTimeout(UpstreamError, TimeoutError):
    """The provider did not answer within the deployment's timeout."""

    status = 504
    code = "upstream_timeout"


class StoreError(TokenwardError):
    """The ledger store is unavailable; nothing was billed, so the caller may retry."""

    status = 503
    code = "store_unavailable"
    retryable = True


class LimiterUnavailable(TokenwardError):
    """The limiter's store failed (refused, timed out, BUSY); retry later.

    Raised by a limiter backend; the configured failure policy decides what the client
    sees (admitted anyway, or this error: "limiter unavailable", never "quota exceeded").
    """

    status = 503
    code = "limiter_unavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


__all__ = [
    "AuthenticationFailed",
    "ClientError",
    "ConfigError",
    "Conflict",
    "InsufficientCredit",
    "InvalidRequest",
    "LimiterUnavailable",
    "ModelNotFound",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RequestTooLarge",
    "StoreError",
    "TokenwardError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamStatusError",
    "UpstreamTimeout",
]
