"""The step `rss`: a fresh gateway's memory after many requests and with many streams open."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from harness.bench import Bench
from harness.config import CHAT_PATH, NONSTREAM_BODY, STREAMS_CLIENT, BenchError
from harness.procs import LineReader, Proc, cpu_ticks, open_fds, pinned, rss_kib
from harness.wrk import run_wrk


def step_rss(bench: Bench) -> dict[str, Any]:
    bench.stop_main_gateway()  # a fresh process, alone on its core
    assert bench.sim is not None
    proc, port, _ = bench.spawn_gateway()
    try:
        idle = rss_kib(proc.pid)
        run = run_wrk(
            f"http://127.0.0.1:{port}{CHAT_PATH}",
            NONSTREAM_BODY,
            bench.key,
            32,
            120,
            core=bench.load_core,
            stop_after=bench.plan.rss_requests,
        )
        time.sleep(1.0)
        after_requests = rss_kib(proc.pid)
        streams = hold_streams(bench, proc, port)
        return {
            "idle_kib": idle,
            "requests": run["requests"] + 1,  # + the readiness probe
            "after_requests_kib": after_requests,
            "streams": streams,
        }
    finally:
        proc.stop(timeout=20)


def hold_streams(bench: Bench, gateway: Proc, port: int) -> dict[str, Any]:
    """RSS while bench/streams.py holds `plan.streams` streams open through `gateway`."""
    assert bench.sim is not None
    plan = bench.plan
    stream_s = plan.stream_tokens * plan.stream_delay_ms / 1000
    sim_before = rss_kib(bench.sim.pid)
    gw_before = rss_kib(gateway.pid)
    args = pinned(
        bench.load_core,
        [
            sys.executable,
            str(STREAMS_CLIENT),
            "--url",
            f"http://127.0.0.1:{port}{CHAT_PATH}",
            "--key",
            bench.key,
            "--count",
            str(plan.streams),
            "--output-tokens",
            str(plan.stream_tokens),
            "--chunk-delay-ms",
            str(plan.stream_delay_ms),
            "--open-timeout",
            str(stream_s * 0.75),
        ],
    )
    client = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=bench.env)
    try:
        assert client.stdout is not None and client.stdin is not None
        reader = LineReader(client.stdout)
        deadline = time.perf_counter() + stream_s + 30
        ready: dict[str, Any] | None = None
        while ready is None and (line := reader.line(deadline)) is not None:
            if line.startswith("READY "):
                ready = json.loads(line[6:])
        if ready is None:
            raise BenchError("the streams client never reported READY")
        held = {
            "gateway_kib": rss_kib(gateway.pid),
            "gateway_fds": open_fds(gateway.pid),
            "upstream_kib": rss_kib(bench.sim.pid),
        }
        client.stdin.write(b"close\n")
        client.stdin.flush()
        done: dict[str, Any] = {}
        while (line := reader.line(time.perf_counter() + 60)) is not None:
            if line.startswith("DONE "):
                done = json.loads(line[5:])
        client.wait(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    # drain policy: the gateway reads each upstream to its end; wait until it is idle
    settle_deadline = time.perf_counter() + stream_s + 10
    last = cpu_ticks(gateway.pid)
    while time.perf_counter() < settle_deadline:
        time.sleep(1.0)
        now = cpu_ticks(gateway.pid)
        if now - last <= 1:
            break
        last = now
    open_streams = int(ready["open"])
    return {
        "requested": plan.streams,
        "output_tokens": plan.stream_tokens,
        "chunk_delay_ms": plan.stream_delay_ms,
        "ready": ready,
        "done": done,
        "gateway_before_kib": gw_before,
        "upstream_before_kib": sim_before,
        **held,
        "per_stream_kib": round((held["gateway_kib"] - gw_before) / open_streams, 1)
        if open_streams
        else None,
        "after_close_kib": rss_kib(gateway.pid),
    }
