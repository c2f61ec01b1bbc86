"""Fixtures of the limiter suite: one harness per backend, and restartable Redis servers.

The contract suite runs every test once per backend through `harness`. Time moves
by `harness.advance()`: the in-process backend reads the `FakeClock`; the Redis
backend reads Redis TIME plus a test-only offset taken from the same clock, so no
test sleeps for a window to slide. Real time still passes under Redis (a few ms per
test), which is why Redis answers are compared with a small tolerance and why
tests never probe exactly at a boundary.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tokenward.clock import FakeClock
from tokenward.limits import LimiterBackend, MemoryLimiter, RedisLimiter

from ..helpers.redis_server import RedisServer, private_redis_server

#: lease used by the contract suite
LEASE = 30.0
#: contract tests are about semantics, not latency: a generous deadline keeps them
#: stable on a busy CI machine (the 50 ms default is tested in test_failure.py)
TEST_TIMEOUT = 2.0


@dataclass
class Harness:
    """One backend under test, a clock to move it, and more handles on the same state."""

    kind: str
    clock: FakeClock
    _open: Callable[[], LimiterBackend]
    _opened: list[LimiterBackend] = field(default_factory=list)

    def open(self) -> LimiterBackend:
        """Another handle on the same limits: another client (a replica) for Redis."""
        backend = self._open()
        self._opened.append(backend)
        return backend

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @property
    def tolerance(self) -> float:
        """How far a time the backend reports may be off: 0 with a fake clock."""
        return 0.0 if self.kind == "memory" else 0.25


def redis_opener(
    url: str, clock: FakeClock, *, lease_seconds: float = LEASE
) -> Callable[[], RedisLimiter]:
    """Limiters sharing one key prefix, with time offset driven by `clock`."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    start = clock.monotonic()

    def offset() -> float:
        return clock.monotonic() - start

    def open_one() -> RedisLimiter:
        return RedisLimiter.from_url(
            url,
            prefix=prefix,
            lease_seconds=lease_seconds,
            timeout=TEST_TIMEOUT,
            time_offset=offset,
        )

    return open_one


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The contract suite's backend: in-process, then Redis (the real server)."""
    clock = FakeClock()
    if request.param == "memory":
        shared = MemoryLimiter(clock, lease_seconds=LEASE)
        harness = Harness("memory", clock, lambda: shared)
    else:
        url: str = request.getfixturevalue("redis_url")
        harness = Harness("redis", clock, redis_opener(url, clock))
    try:
        yield harness
    finally:
        for backend in harness._opened:
            await backend.aclose()


@pytest.fixture
def limiter(harness: Harness) -> LimiterBackend:
    return harness.open()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own (the shared one must not be killed)."""
    with private_redis_server() as server:
        yield server
