"""Paths, constants, the request bodies, the targets and the run plan."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS_MD = BENCH / "RESULTS.md"
WRK_LUA = BENCH / "wrk.lua"
STREAMS_CLIENT = BENCH / "streams.py"
GUARD_BENCH = BENCH / "guard_bench.py"
LIMITER_BENCH = BENCH / "limiter_bench.py"
VENV_BIN = Path(sys.executable).parent
TOKENWARD = VENV_BIN / "tokenward"
PY_SPY = VENV_BIN / "py-spy"

GATEWAY_CORE = 0
LOAD_CORE = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
CHAT_PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
MODEL = "sim-small"
#: the same simulator model behind the `anthropic`-kind provider (translation step)
ANTHROPIC_MODEL = "sim-small-anthropic"
ANTHROPIC_VERSION = "2023-06-01"
STREAM_CHUNKS = 20
DATA_MARK = "<!-- tokenward-bench-data "

SECTIONS = ("startup", "latency", "throughput", "translation", "guard", "profile", "rss")
CONNECTIONS = (32, 64)
#: connections of the translation and guard steps
STEP_CONNECTIONS = 32
#: a run during which other processes and the hypervisor (steal) took more CPU than this
#: (cores) is repeated once
BUSY_RETRY_CORES = 0.25
#: more than this (cores) taken during a run earns a note in the results
BUSY_NOTE_CORES = 0.1

TARGETS = {
    "added_p50_ms": 0.5,
    "added_p99_ms": 2.0,
    "nonstream_rps": 2750.0,
    "stream_rps": 900.0,
    #: issue 3: translation adds at most 20% to the gateway's own CPU time per request
    "translation_ratio": 1.20,
    #: bench/guard_bench.py: p50 <= 1 ms for a 4,000-token prompt
    "guard_long_added_ms": 1.0,
}

#: per-worker reference numbers from the issue (measured elsewhere, not by this script)
PEERS = (
    ("LiteLLM 1.108.7", "~110", "36", "+11.6 ms"),
    ("Portkey 1.15.2", "~1,000", "740-820", "+0.83 ms"),
    ("bare raw-ASGI floor", "~7,000", "2,000", "+0.37 ms"),
)

PROMPT = [{"role": "user", "content": "Say hello to the benchmark, in twenty words."}]


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


NONSTREAM_BODY = compact(
    {"model": MODEL, "messages": PROMPT, "metadata": {"sim_output_tokens": str(STREAM_CHUNKS)}}
)
# the same body to both targets: the gateway always asks upstream for usage anyway
STREAM_BODY = compact(
    {
        "model": MODEL,
        "messages": PROMPT,
        "stream": True,
        "stream_options": {"include_usage": True},
        "metadata": {"sim_output_tokens": str(STREAM_CHUNKS)},
    }
)


class BenchError(RuntimeError):
    """A step could not run; the message says why."""


@dataclass(frozen=True)
class Plan:
    """How long and how often: the full run or `--quick`."""

    quick: bool
    run_s: int
    warmup_s: int
    startup_repeats: int
    profile_s: int
    rss_requests: int = 10_000
    streams: int = 1000
    stream_tokens: int = 100
    stream_delay_ms: int = 200
    #: translation and guard steps: every variant runs this many rounds of `compare_s`
    #: seconds, interleaved (a b c a b c), so a drift of the machine hits them alike
    compare_rounds: int = 2
    compare_s: int = 5
    #: requests per measurement of bench/limiter_bench.py (its default is 20,000)
    limiter_requests: int = 10_000

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True,
                run_s=3,
                warmup_s=1,
                startup_repeats=2,
                profile_s=3,
                compare_s=2,
                limiter_requests=3000,
            )
        return cls(quick=False, run_s=10, warmup_s=2, startup_repeats=3, profile_s=8)
