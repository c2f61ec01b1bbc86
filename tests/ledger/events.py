"""Building usage events for ledger tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenward.ledger.model import EventStatus, UsageEvent
from tokenward.metering.usage import Usage

T0 = datetime(2026, 1, 1, 10, 15, 0, 250000, tzinfo=UTC)


def make_event(
    request_id: str,
    *,
    account_id: str = "acc_a",
    key_id: str = "key_a1",
    model: str = "sim-small",
    started_at: datetime = T0,
    input_tokens: int = 10,
    cached_input_tokens: int = 2,
    cache_write_tokens: int = 1,
    output_tokens: int = 5,
    reasoning_tokens: int = 1,
    estimated: bool = False,
    latency_ms: float = 12.5,
    status: EventStatus = EventStatus.OK,
) -> UsageEvent:
    return UsageEvent(
        request_id=request_id,
        account_id=account_id,
        key_id=key_id,
        route="chat.completions",
        model=model,
        upstream_model=f"up-{model}",
        deployment="sim",
        stream=False,
        status=status,
        usage=Usage(
            input_tokens=input_tokens,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
            output_tokens=output_tokens,
            reasoning_tokens=reasoning_tokens,
            estimated=estimated,
        ),
        started_at=started_at,
        finished_at=started_at + timedelta(milliseconds=latency_ms),
        latency_ms=latency_ms,
        http_status=200,
    )
