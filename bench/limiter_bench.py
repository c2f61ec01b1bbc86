"""Limiter micro-benchmark: decisions per second and the latency one acquire adds.

    .venv/bin/python bench/limiter_bench.py                 # private redis-server on loopback
    .venv/bin/python bench/limiter_bench.py --redis-url redis://127.0.0.1:6379/0 -n 50000

Every acquire checks and reserves 3 limits at once (requests/min per key, tokens/min
per account, concurrency per model), sized so that every request is admitted: the
full check-and-write path, the one a real request takes. Measured for the in-process
and the Redis backend: sequential (one caller; p50/p99 of one acquire) and concurrent
(`--concurrency` callers on one event loop, one Redis client, i.e. one replica), for
acquire alone and for acquire + commit (a request's whole limiter cost: the latency
the limiter adds to a request with 3 limits active is the sequential acquire+commit
p50, target < 1 ms for Redis on loopback).

Pipelining: every Redis decision is one EVALSHA round trip (check and reserve all
limits atomically); `RedisLimiter` has no batch call, so the concurrent runs are how
round trips overlap (the client's connection pool). Also measured: a capacity pool's
acquire + release (`limits/pools.py`, in-process), alone and with 64 callers on 8 slots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from tokenward.clock import SystemClock
from tokenward.limits import LimiterBackend, LimitSpec, MemoryLimiter, RedisLimiter
from tokenward.limits.pools import CapacityPool, PoolSpec, TierPolicy

LIMITS = [
    LimitSpec("key", "bench", "requests", 10**9, window=60),
    LimitSpec("account", "bench", "tokens", 10**12, window=60),
    LimitSpec("model", "bench", "concurrency", 10**9),
]
AMOUNTS = {"tokens": 1200}


async def one_request(limiter: LimiterBackend, i: int, commit: bool) -> None:
    decision = await limiter.acquire(f"b{i}", LIMITS, AMOUNTS)
    assert decision.allowed and decision.reservation is not None
    if commit:
        await limiter.commit(decision.reservation, 900)


async def sequential(limiter: LimiterBackend, n: int, commit: bool) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await one_request(limiter, i, commit)
        latencies.append(time.perf_counter() - t0)
    return n / (time.perf_counter() - started), latencies


async def concurrent(limiter: LimiterBackend, n: int, callers: int, commit: bool) -> float:
    async def caller(start: int) -> None:
        for i in range(start, n, callers):
            await one_request(limiter, i, commit)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(callers)))
    return n / (time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1e3


async def measure(
    name: str, make: Callable[[], Awaitable[LimiterBackend]], n: int, callers: int
) -> list[str]:
    rows = []
    for commit in (False, True):
        what = "acquire+commit" if commit else "acquire"
        limiter = await make()
        try:
            await sequential(limiter, min(n, 500), commit)  # warm up
            rate, lat = await sequential(limiter, n, commit)
            rows.append(
                f"{name:<7} {what:<15} sequential      {rate:>9,.0f}/s   "
                f"p50 {pct(lat, 50):.3f} ms  p99 {pct(lat, 99):.3f} ms"
            )
            rate = await concurrent(limiter, n, callers, commit)
            rows.append(f"{name:<7} {what:<15} {callers} concurrent   {rate:>9,.0f}/s")
        finally:
            await limiter.aclose()
    return rows


async def pool_run(n: int, slots: int, workers: int) -> tuple[float, list[float]]:
    """Decisions per second and acquire latencies of one pool, `workers` callers."""
    tiers = TierPolicy.build(("gold", "bronze"), "", 60.0, None, 10_000)
    pool = CapacityPool(PoolSpec("bench/model", slots, None), tiers, SystemClock())
    latencies: list[float] = []

    async def caller(start: int) -> None:
        for i in range(start, n, workers):
            t0 = time.perf_counter()
            slot = await pool.acquire("gold" if i % 2 else "bronze")
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0)  # hold the slot across a turn of the loop
            slot.release(0)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(workers)))
    return n / (time.perf_counter() - started), latencies


async def pool_rows(n: int, callers: int) -> list[str]:
    """Capacity pool decisions: acquire + release of a slot, free and contended."""
    rows = []
    for slots, workers in ((10**6, 1), (8, callers)):
        rate, latencies = await pool_run(n, slots, workers)
        label = "free, sequential" if workers == 1 else f"{workers} callers, 8 slots"
        rows.append(
            f"pool    acquire+release {label:<19} {rate:>9,.0f}/s   "
            f"p50 {pct(latencies, 50):.3f} ms  p99 {pct(latencies, 99):.3f} ms"
        )
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, load {load}"


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    work = tempfile.mkdtemp(prefix="tokenward-bench-redis-")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *args, "--dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.02)
    return process, f"redis://127.0.0.1:{port}/0"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="use this Redis instead of a private one")
    parser.add_argument("-n", type=int, default=20_000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=64)
    opts = parser.parse_args()
    process, url = (None, opts.redis_url) if opts.redis_url else start_redis()

    async def memory() -> LimiterBackend:
        return MemoryLimiter(lease_seconds=300)

    async def redis() -> LimiterBackend:
        limiter = RedisLimiter.from_url(
            url, prefix=f"bench{uuid.uuid4().hex[:6]}", timeout=1.0, lease_seconds=300
        )
        await limiter.warm_up()
        return limiter

    try:
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}")
        print(f"3 limits per acquire, n={opts.n}; Redis at {url}")
        added: dict[str, float] = {}
        for name, make in (("memory", memory), ("redis", redis)):
            for row in await measure(name, make, opts.n, opts.concurrency):
                print(row)
                if "acquire+commit  sequential" in row:
                    added[name] = float(row.split("p50 ")[1].split(" ms")[0])
        for row in await pool_rows(opts.n, opts.concurrency):
            print(row)
        verdict = "met" if added.get("redis", 99) < 1.0 else "missed"
        print(
            f"added per request, 3 limits (acquire+commit p50): memory "
            f"{added.get('memory', 0):.3f} ms, redis {added.get('redis', 0):.3f} ms "
            f"(target redis < 1 ms: {verdict})"
        )
    finally:
        if process is not None:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    asyncio.run(main())
