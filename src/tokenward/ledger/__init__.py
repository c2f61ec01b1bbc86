"""Ledger: usage events (one per request, idempotent by request id) and reports.

The writer and reports sit on top of `storage`, which itself imports `ledger.model`;
they load on first use (PEP 562) so that importing the pure value types never
drags in the database layer, and the two packages can import each other's parts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokenward.ledger.model import EventStatus, UsageEvent

if TYPE_CHECKING:
    from tokenward.ledger.reports import usage_report
    from tokenward.ledger.writer import EventWriter, RecordOutcome

_LAZY = {
    "EventWriter": "tokenward.ledger.writer",
    "RecordOutcome": "tokenward.ledger.writer",
    "usage_report": "tokenward.ledger.reports",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["EventStatus", "EventWriter", "RecordOutcome", "UsageEvent", "usage_report"]
