"""Ledger: usage events (one per request, idempotent by request id)."""

from tokenward.ledger.model import EventStatus, UsageEvent

__all__ = ["EventStatus", "UsageEvent"]
