"""Tokenward benchmark: the gateway against its upstream, on one machine, in one run.

    make bench                                  # everything, ~7 minutes
    .venv/bin/python bench/run.py --quick       # shorter runs, same steps
    .venv/bin/python bench/run.py --only latency,throughput

Two processes serve HTTP on 127.0.0.1: the simulator upstream (`tokenward simulate`) and
the gateway in front of it (`tokenward serve`, one worker, SQLite ledger, metering and
guard on, in a temporary TOKENWARD_HOME). The gateway is pinned to core 0, the
simulator, wrk and this script to core 1 (`taskset`). wrk (with bench/wrk.lua for the
POST body) loads (a) the simulator directly and (b) the gateway, at the same settings,
so every gateway number has its direct-upstream twin. Steps (`--only` takes any of them):

    startup      seconds from spawning `tokenward serve` to its first 200 chat completion
    latency      1 connection, non-stream: gateway p50/p99 minus direct p50/p99
    throughput   32 and 64 connections, non-stream and stream (20 chunks, usage last);
                 gateway CPU time per request from /proc/<pid>/stat around each run
    translation  gateway CPU per request, OpenAI -> OpenAI vs Anthropic client -> OpenAI
                 upstream vs OpenAI client -> Anthropic upstream (a second simulator)
    guard        gateway CPU per request, guard on vs off, short and ~4,000-token prompts;
                 then bench/guard_bench.py and bench/limiter_bench.py
    profile      py-spy (installed into the venv on demand) during non-stream and
                 stream runs; own time by function and module
    rss          VmRSS after 10,000 requests and with 1,000 streams open at once
                 (bench/streams.py)

Results: a table on stdout, and bench/RESULTS.md (rewritten; the numbers of steps not
run this time are kept from its previous version). Raw artefacts (py-spy collapsed
stacks, which speedscope.app opens) go to bench/out/. Every process started here is
stopped at the end, also on Ctrl-C. The code lives in bench/harness/, one concern a module.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
