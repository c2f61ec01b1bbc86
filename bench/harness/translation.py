"""The step `translation`: the gateway's CPU per request across dialects, in one run.

Issue 3: translation adds no more than 20% to the gateway's own CPU time per request,
against a straight OpenAI-to-OpenAI request measured in the same run. Three routes
through the same gateway process, non-stream and stream, 32 connections each, in
interleaved rounds (`harness.compare`):

    openai              OpenAI client -> /v1/chat/completions -> OpenAI simulator (baseline)
    anthropic-client    Anthropic client -> /v1/messages -> the same OpenAI simulator
    anthropic-upstream  OpenAI client -> /v1/chat/completions -> `anthropic`-kind provider
                        -> `tokenward simulate --dialect anthropic`

An Anthropic body carries no `sim_*` metadata upstream, so every route asks for
`max_tokens` = 20 and the simulators are configured to reply with exactly 20 words
(20 content chunks as a stream): the upstream work is the same on every route.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.bench import Bench, Target
from harness.compare import interleave, pooled_ms
from harness.config import (
    ANTHROPIC_MODEL,
    CHAT_PATH,
    MESSAGES_PATH,
    MODEL,
    PROMPT,
    STEP_CONNECTIONS,
    STREAM_CHUNKS,
    BenchError,
    compact,
)
from harness.procs import http_status

MODES = ("non-stream", "stream")


@dataclass(frozen=True)
class Route:
    name: str
    label: str
    path: str
    model: str
    anthropic_client: bool
    anthropic_upstream: bool

    def body(self, stream: bool) -> str:
        if self.anthropic_client:
            payload: dict[str, Any] = {
                "model": self.model,
                "max_tokens": STREAM_CHUNKS,
                "messages": PROMPT,
            }
            if stream:
                payload["stream"] = True
            return compact(payload)
        payload = {"model": self.model, "messages": PROMPT, "max_tokens": STREAM_CHUNKS}
        if stream:
            payload.update(stream=True, stream_options={"include_usage": True})
        return compact(payload)


ROUTES = (
    Route("openai", "OpenAI client -> OpenAI upstream", CHAT_PATH, MODEL, False, False),
    Route(
        "anthropic-client",
        "Anthropic client (/v1/messages) -> OpenAI upstream",
        MESSAGES_PATH,
        MODEL,
        True,
        False,
    ),
    Route(
        "anthropic-upstream",
        "OpenAI client -> Anthropic upstream",
        CHAT_PATH,
        ANTHROPIC_MODEL,
        False,
        True,
    ),
)
BASELINE = ROUTES[0].name


def _target(bench: Bench, route: Route) -> Target:
    gateway = bench.main_gateway()
    upstream = bench.anthropic_sim if route.anthropic_upstream else bench.sim
    return bench.through(
        gateway,
        bench.gw_port,
        label=f"translation {route.name}",
        path=route.path,
        upstream=upstream,
        anthropic_client=route.anthropic_client,
    )


def step_translation(bench: Bench) -> dict[str, Any]:
    if bench.anthropic_sim is None or not bench.anthropic_sim.alive():
        bench.anthropic_sim = bench.start_simulator(bench.anthropic_port, "anthropic")
    try:
        return _measure(bench)
    finally:
        bench.anthropic_sim.stop()
        bench.anthropic_sim = None


def _measure(bench: Bench) -> dict[str, Any]:
    plan = bench.plan
    targets = {route.name: _target(bench, route) for route in ROUTES}
    for route in ROUTES:
        target = targets[route.name]
        status = http_status(
            bench.gw_port,
            "POST",
            route.path,
            route.body(stream=False),
            target.key,
            target.headers,
        )
        if status != 200:
            raise BenchError(f"translation route {route.name} answered {status}, not 200")
    runs: list[dict[str, Any]] = []
    cpu_ms: dict[str, dict[str, float]] = {}
    ratios: dict[str, dict[str, float | None]] = {}
    for mode in MODES:
        stream = mode == "stream"
        for route in ROUTES:
            bench.load(targets[route.name], route.body(stream), 64, plan.warmup_s, retry=False)
        time.sleep(0.5)
        variants = [(route.name, targets[route.name], route.body(stream)) for route in ROUTES]
        by_route = interleave(bench, variants, STEP_CONNECTIONS, tag=f"{mode:10} ")
        for number in range(plan.compare_rounds):
            for route in ROUTES:
                run = by_route[route.name][number]
                runs.append(
                    {
                        "mode": mode,
                        "route": route.name,
                        "label": route.label,
                        "round": run["round"],
                        "run": run,
                    }
                )
        cpu = {name: pooled_ms(route_runs) for name, route_runs in by_route.items()}
        cpu_ms[mode] = cpu
        base = cpu[BASELINE]
        ratios[mode] = {
            route.name: round(cpu[route.name] / base, 3) if base else None
            for route in ROUTES
            if route.name != BASELINE
        }
    return {
        "connections": STEP_CONNECTIONS,
        "reply_words": STREAM_CHUNKS,
        "rounds": plan.compare_rounds,
        "round_s": plan.compare_s,
        "routes": {route.name: route.label for route in ROUTES},
        "baseline": BASELINE,
        "runs": runs,
        "cpu_ms": cpu_ms,
        "ratios": ratios,
    }
