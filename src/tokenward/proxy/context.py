"""The typed context one request carries through the pipeline."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from tokenward.auth import Principal
from tokenward.limits.model import Reservation
from tokenward.proxy.charge import Charge
from tokenward.routing import Deployment

if TYPE_CHECKING:
    from tokenward.plans.cache import Entitlement


class ClientSink(Protocol):
    """Where the response goes: implemented by the API layer over ASGI.

    `write` never raises when the client has gone; it returns False instead, and
    `gone` tells whether the client disconnected.
    """

    @property
    def gone(self) -> bool: ...

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...

    async def write(self, data: bytes, *, more: bool = True) -> bool: ...

    async def wait_gone(self) -> None: ...


@dataclass(slots=True)
class RequestContext:
    """Request id, timing, principal, route, model and limiter reservation of one request."""

    request_id: str
    route: str
    started_at: datetime
    started_mono: float
    api_key: str | None = None
    principal: Principal | None = None
    model: str = ""
    deployment: Deployment | None = None
    #: upstream attempts made so far (retries and fallbacks included)
    attempts: int = 0
    #: what admission holds on the limits until the usage is settled (None: unlimited)
    reservation: Reservation | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: priority tier for capacity pools ('' = the default tier)
    tier: str = ""
    #: the caller's plan subscription ('' / None: none), known before the limits
    plan: str = ""
    entitlement: Entitlement | None = None
    #: who pays and what the money path holds until settle (None: not decided yet)
    charge: Charge | None = None


class RequestIds:
    """Unique request ids without a syscall each: a random per-process prefix + a counter.

    The prefix is drawn at start-up (64 random bits), so ids stay unique across
    workers, replicas and restarts; the ledger's primary key enforces it anyway.
    """

    def __init__(self) -> None:
        self._prefix = "req_" + os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"


__all__ = ["ClientSink", "RequestContext", "RequestIds"]
