"""Reading the ledger of a gateway under test, straight from its store."""

from __future__ import annotations

import time
from collections.abc import Iterable

from tests.integration.conftest import Gateway
from tokenward.config import load_settings
from tokenward.ledger import UsageEvent
from tokenward.storage import Store, events_by_request_ids


def ledger_events(gateway: Gateway, request_ids: Iterable[str]) -> dict[str, UsageEvent]:
    settings = load_settings(gateway.config, env=gateway.env)
    store = Store.connect(settings.database)
    try:
        return {e.request_id: e for e in events_by_request_ids(store, list(request_ids))}
    finally:
        store.close()


def wait_for_event(gateway: Gateway, request_id: str, timeout: float = 15.0) -> UsageEvent:
    deadline = time.monotonic() + timeout
    while True:
        events = ledger_events(gateway, [request_id])
        if request_id in events:
            return events[request_id]
        if time.monotonic() > deadline:
            raise AssertionError(f"no usage event for {request_id}")
        time.sleep(0.05)
