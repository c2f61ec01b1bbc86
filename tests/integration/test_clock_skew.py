"""R-LIM-5: a replica whose clock is 30 s off still limits exactly, as windows read
Redis `TIME`, never the replica's own clock.

Two `tokenward serve` replicas share one Redis; the second runs with its wall clock
shifted by +30 s or -30 s (`tests/helpers/clock_skew.py`: libfaketime is not on the
CI machine, so a `sitecustomize` shim shifts `time.time`, `time.time_ns` and
`SystemClock.now`). 200 concurrent requests on one key limited to 100/min, to both
replicas: exactly 100 admitted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.helpers.clock_skew import skewed_env
from tests.helpers.processes import free_port
from tests.integration.conftest import Gateway, Simulator, make_gateway
from tests.integration.test_limits import RULES_SETTLE, api_key, chat, fire

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def straight(
    tmp_path_factory: pytest.TempPathFactory, simulator: Simulator, redis_url: str
) -> Iterator[Gateway]:
    """The replica with the true clock."""
    gateway = make_gateway(
        tmp_path_factory.mktemp("skew"),
        simulator,
        TOKENWARD_REDIS_URL=redis_url,
        TOKENWARD_LIMITS__REDIS_TIMEOUT_MS="3000",
    )
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.mark.parametrize("offset", [30.0, -30.0])
def test_a_skewed_replica_admits_exactly_the_requests_per_minute(
    straight: Gateway, offset: float
) -> None:
    skewed = Gateway(
        home=straight.home,
        config=straight.config,
        port=free_port(),
        env=skewed_env(straight.env, offset),
    )
    skewed.start()
    try:
        # the shim works: the skewed replica's HTTP Date header is `offset` seconds off
        date = httpx.get(f"{skewed.url}/healthz", trust_env=False).headers["date"]
        drift = parsedate_to_datetime(date).timestamp() - time.time()
        assert abs(drift - offset) < 3, drift
        key, _ = api_key(straight, "skew-ahead" if offset > 0 else "skew-behind", rpm=100)
        time.sleep(RULES_SETTLE)
        # 60 to the skewed replica alone, then 140 more to both at once: its admissions
        # must count in the same window the other replica reads
        alone = fire([(skewed.url, key, chat(8)) for _ in range(60)])
        assert [r.status for r in alone] == [200] * 60
        mixed = fire([((straight, skewed)[i % 2].url, key, chat(8)) for i in range(140)])
        statuses = [r.status for r in alone + mixed]
        assert statuses.count(200) == 100, statuses
        assert statuses.count(429) == 100, statuses
        for reply in mixed:
            if reply.status == 429:
                # Retry-After comes from Redis time too: within the minute, never 30 s off
                assert 1 <= int(reply.headers["retry-after"]) <= 60
    finally:
        skewed.stop()
