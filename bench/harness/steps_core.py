"""The steps `startup`, `latency` and `throughput`."""

from __future__ import annotations

import statistics
import time
from typing import Any

from harness.bench import Bench
from harness.config import CONNECTIONS, NONSTREAM_BODY, STREAM_BODY


def step_startup(bench: Bench) -> dict[str, Any]:
    bench.stop_main_gateway()
    seconds: list[float] = []
    for _ in range(bench.plan.startup_repeats):
        proc, _, took = bench.spawn_gateway()
        seconds.append(round(took, 3))
        proc.stop()
    return {
        "seconds": seconds,
        "median_s": round(statistics.median(seconds), 3),
        "first_s": seconds[0],
    }


def step_latency(bench: Bench) -> dict[str, Any]:
    bench.warm_up()
    direct = bench.wrk("direct", NONSTREAM_BODY, 1, bench.plan.run_s)
    time.sleep(0.5)
    gateway = bench.wrk("gateway", NONSTREAM_BODY, 1, bench.plan.run_s)
    d, g = direct["latency_us"], gateway["latency_us"]
    return {
        "direct": direct,
        "gateway": gateway,
        "added_ms": {p: round((g[p] - d[p]) / 1000, 3) for p in ("p50", "p90", "p99", "mean")},
    }


def step_throughput(bench: Bench) -> dict[str, Any]:
    bench.warm_up()
    runs: list[dict[str, Any]] = []
    for mode, body in (("non-stream", NONSTREAM_BODY), ("stream", STREAM_BODY)):
        for connections in CONNECTIONS:
            direct = bench.wrk("direct", body, connections, bench.plan.run_s)
            time.sleep(0.5)
            gateway = bench.wrk("gateway", body, connections, bench.plan.run_s)
            time.sleep(0.5)
            ratio = gateway["rps"] / direct["rps"] if direct["rps"] else 0.0
            runs.append(
                {
                    "mode": mode,
                    "connections": connections,
                    "direct": direct,
                    "gateway": gateway,
                    "ratio": round(ratio, 3),
                }
            )
            print(
                f"  {mode:10} c={connections:<3} direct {direct['rps']:>8,.0f} req/s   "
                f"gateway {gateway['rps']:>8,.0f} req/s",
                flush=True,
            )
    return {"runs": runs}
