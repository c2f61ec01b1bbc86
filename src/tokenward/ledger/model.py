"""Ledger value objects: the usage event, one per request, unique by request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tokenward.metering.usage import Usage


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

    @property
    def estimated(self) -> bool:
        return self.usage.estimated


__all__ = ["EventStatus", "UsageEvent"]
