"""Interleaved rounds of load at several variants, and the gateway CPU per request pooled."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from harness.bench import Bench, Target


def interleave(
    bench: Bench,
    variants: Sequence[tuple[str, Target, str]],
    connections: int,
    *,
    tag: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """`plan.compare_rounds` rounds of (name, target, body) in turn; runs by variant name."""
    plan = bench.plan
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in variants}
    for number in range(1, plan.compare_rounds + 1):
        for name, target, body in variants:
            run = bench.load(target, body, connections, plan.compare_s)
            run["round"] = number
            runs[name].append(run)
            time.sleep(0.3)
            print(
                f"  {tag}{name:20} round {number}  {run['rps']:>8,.0f} req/s   "
                f"gateway {gateway_ms(run):.3f} ms CPU/req",
                flush=True,
            )
    return runs


def gateway_ms(run: dict[str, Any]) -> float:
    """The gateway's CPU milliseconds per request in one run."""
    return float(run["cpu"]["gateway"]["ms_per_request"] or 0.0)


def pooled_ms(runs: Sequence[dict[str, Any]]) -> float:
    """Gateway CPU ms per request over several runs: their CPU time over their requests."""
    requests = sum(int(r["requests"]) for r in runs)
    if not requests:
        return 0.0
    return round(sum(gateway_ms(r) * int(r["requests"]) for r in runs) / requests, 4)
