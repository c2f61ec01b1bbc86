"""Options, pre-flight checks, and the run: the steps in order, then RESULTS.md."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from harness.bench import Bench
from harness.config import (
    GATEWAY_CORE,
    LOAD_CORE,
    RESULTS_MD,
    ROOT,
    SECTIONS,
    TOKENWARD,
    BenchError,
    Plan,
)
from harness.guard import step_guard
from harness.machine import machine, run_meta, versions, wait_for_quiet
from harness.procs import Proc
from harness.profile import step_profile
from harness.report import (
    SUMMARY_HEADER,
    auto_notes,
    load_previous,
    render_markdown,
    summary_rows,
    text_table,
)
from harness.rss import step_rss
from harness.steps_core import step_latency, step_startup, step_throughput
from harness.translation import step_translation
from harness.wrk import ensure_wrk

STEPS: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "startup": step_startup,
    "latency": step_latency,
    "throughput": step_throughput,
    "translation": step_translation,
    "guard": step_guard,
    "profile": step_profile,
    "rss": step_rss,
}
assert tuple(STEPS) == SECTIONS


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def preflight() -> bool:
    """Tools and cores; returns whether the processes can be pinned to two cores."""
    if sys.platform != "linux":
        raise BenchError("the benchmark reads /proc and uses taskset: Linux only")
    if not TOKENWARD.exists():
        raise BenchError(f"{TOKENWARD} not found: run `make install` first")
    ensure_wrk()
    cores = os.sched_getaffinity(0)
    pin = shutil.which("taskset") is not None and {GATEWAY_CORE, LOAD_CORE} <= cores
    if not pin:
        print(
            "warning: cannot pin to cores 0 and 1 (need taskset and two cores); "
            "running unpinned, numbers are not comparable",
            flush=True,
        )
    else:
        os.sched_setaffinity(0, {LOAD_CORE})  # this script stays off the gateway's core
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the servers
    return pin


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Tokenward benchmark (gateway vs direct upstream; writes bench/RESULTS.md)."
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (~2.5 minutes)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated steps among {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, leave RESULTS.md alone"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite RESULTS.md from the data it embeds (after editing "
        "the report code in bench/harness/report/)",
    )
    parser.add_argument(
        "--max-wait-quiet",
        type=float,
        default=30.0,
        metavar="S",
        help="wait up to S seconds for other processes to leave the CPU first (default 30)",
    )
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        parser.error(f"--only takes {', '.join(SECTIONS)}; got {args.only!r}")
    args.sections = [s for s in SECTIONS if s in chosen]
    return args


def print_summary(data: dict[str, Any]) -> None:
    rows = [[c.replace("**", "") for c in r] for r in summary_rows(data)]
    print(text_table(SUMMARY_HEADER, rows))


def render_only() -> int:
    data = load_previous()
    if not data.get("sections"):
        print(f"{RESULTS_MD.relative_to(ROOT)} holds no benchmark data to render", file=sys.stderr)
        return 1
    RESULTS_MD.write_text(render_markdown(data, Plan.make(bool(data["meta"].get("quick")))))
    print_summary(data)
    print(f"\nrewrote {RESULTS_MD.relative_to(ROOT)} from its data")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_only()
    plan = Plan.make(args.quick)
    started = time.perf_counter()
    bench: Bench | None = None
    with interrupt_on_sigterm():
        try:
            pin = preflight()
            background = wait_for_quiet(args.max_wait_quiet)
            meta = run_meta(plan)
            data = load_previous()
            data.setdefault("sections", {})
            data.update(meta=meta, machine=machine(), versions=versions())
            data["machine"]["other_cores_at_start"] = background
            bench = Bench(plan, pin)
            print(f"bench: state in {bench.tmp}; steps: {', '.join(args.sections)}", flush=True)
            bench.setup()
            for name in args.sections:
                print(f"[{time.perf_counter() - started:5.0f}s] {name} ...", flush=True)
                data["sections"][name] = {"meta": meta, "data": STEPS[name](bench)}
            bench.stop_main_gateway()
            data["notes"] = [*bench.notes, *auto_notes(data)]
            if not pin:
                data["notes"].append("Run unpinned (no taskset or fewer than two cores).")
        except KeyboardInterrupt:
            print("\ninterrupted: stopping every process started by the benchmark", flush=True)
            return 130
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            if bench is not None:
                bench.close()
            Proc.stop_all()
    print()
    print_summary(data)
    for note in data["notes"]:
        print(f"note: {note}")
    if not args.no_write:
        RESULTS_MD.write_text(render_markdown(data, plan))
        print(f"\nwrote {RESULTS_MD.relative_to(ROOT)}", end="")
    print(f" ({time.perf_counter() - started:.0f} s)")
    return 0
