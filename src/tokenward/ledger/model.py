"""Ledger value objects: the usage event, one per request, unique by request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from tokenward.metering.usage import Usage

#: who pays for an event: the account's invoice, its prepaid credit, its plan (inside
#: the quota, so not charged per event), or nobody (no price, or the admin's traffic)
BilledTo = Literal["postpaid", "prepaid", "plan", "none"]


class EventStatus(StrEnum):
    """How the request ended, as far as billing is concerned."""

    OK = "ok"
    UPSTREAM_ERROR = "upstream_error"
    CLIENT_DISCONNECTED = "client_disconnected"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """What one request consumed. `request_id` is the idempotency key of the ledger."""

    request_id: str
    account_id: str
    key_id: str
    route: str  # "chat.completions" | "embeddings" | "messages"
    model: str  # the public model name the client asked for
    upstream_model: str
    deployment: str
    stream: bool
    status: EventStatus
    usage: Usage
    started_at: datetime
    finished_at: datetime
    latency_ms: float
    http_status: int
    #: upstream attempts it took (retries and fallbacks included); 0 if none was made
    attempts: int = 1
    #: the cost at list price, rounded once (money.round_cost); None: the model has no
    #: price in the book in force when the request started
    cost: Decimal | None = None
    currency: str = ""
    #: the price book version that priced it, and the time-of-day window ('' if none)
    price_version: str = ""
    price_window: str = ""
    billed_to: BilledTo = "none"

    @property
    def estimated(self) -> bool:
        return self.usage.estimated


__all__ = ["BilledTo", "EventStatus", "UsageEvent"]
