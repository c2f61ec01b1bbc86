"""RESULTS.md as a whole: header, summary, peers, the sections, method, notes, data."""

from __future__ import annotations

import json
from typing import Any

from harness.config import DATA_MARK, GATEWAY_CORE, LOAD_CORE, PEERS, STREAM_CHUNKS, Plan
from harness.report.extra import guard_section, micro_sections, translation_section
from harness.report.format import SUMMARY_HEADER, md_table
from harness.report.sections import (
    latency_section,
    profile_section,
    rss_section,
    startup_section,
    throughput_section,
)
from harness.report.summary import summary_rows


def render_markdown(data: dict[str, Any], plan: Plan) -> str:
    meta, mach, ver = data["meta"], data["machine"], data["versions"]
    sections = data["sections"]

    def of(name: str) -> Any:
        return sections.get(name, {}).get("data")

    lines = [
        "# Tokenward benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`, code in `bench/harness/`); edit the "
        "script, not this file. Method below; how to run it in `bench/README.md`.",
        "",
        f"- **Date:** {meta['date']}" + (" (`--quick` run)" if meta.get("quick") else ""),
        f"- **Commit:** {meta['commit']}",
        f"- **Machine:** {mach['cpu']}, {mach['cores']} cores, {mach['ram_gib']} GiB RAM, "
        f"{mach['kernel']}; other processes and steal took "
        f"{mach.get('other_cores_at_start', 0):.2f} cores when the run started",
        "- **Versions:** " + ", ".join(f"{k} {v.removeprefix(k + ' ')}" for k, v in ver.items()),
        "",
        "## Summary",
        "",
        *md_table(SUMMARY_HEADER, summary_rows(data)),
        "",
        "Direct upstream = wrk against the simulator alone (then it has core 1 to itself "
        "with wrk); gateway = wrk against Tokenward (core 0) in front of the same simulator.",
        "",
        "### Peer reference (per worker, from the issue; not measured by this script)",
        "",
        *peer_table(of("throughput"), of("latency")),
        "",
    ]
    if of("latency"):
        lines += latency_section(data, of("latency"))
    if of("throughput"):
        lines += throughput_section(data, of("throughput"))
    if of("startup"):
        lines += startup_section(data, of("startup"))
    if of("rss"):
        lines += rss_section(data, of("rss"))
    if of("profile"):
        lines += profile_section(data, of("profile"))
    if of("translation"):
        lines += translation_section(data, of("translation"))
    if of("guard"):
        lines += guard_section(data, of("guard"))
        lines += micro_sections(data, of("guard"), first=9)
    lines += method(plan)
    notes = data.get("notes") or []
    if notes:
        lines += ["## Notes of this run", "", *[f"- {n}" for n in notes], ""]
    lines += [f"{DATA_MARK}{json.dumps(data, separators=(',', ':'))} -->", ""]
    return "\n".join(lines)


def peer_table(throughput: dict[str, Any] | None, latency: dict[str, Any] | None) -> list[str]:
    rows: list[list[str]] = []
    if throughput or latency:

        def best(mode: str) -> str:
            if not throughput:
                return "-"
            values = [r["gateway"]["rps"] for r in throughput["runs"] if r["mode"] == mode]
            return f"{max(values):,.0f}"

        added = f"{latency['added_ms']['p50']:+.2f} ms" if latency else "-"
        rows.append(
            ["**Tokenward (this run)**", best("non-stream"), best("stream"), f"**{added}**"]
        )
    rows += [list(p) for p in PEERS]
    return md_table(("Gateway", "Non-stream req/s", "Stream req/s", "Added p50 latency"), rows)


def method(plan: Plan) -> list[str]:
    return [
        "## Method",
        "",
        f"- One run, one machine, loopback only. Gateway: `tokenward serve` (1 worker, "
        f"uvicorn + uvloop + httptools, SQLite ledger in a temporary `TOKENWARD_HOME`, "
        f"metering, guard and group-commit ledger on, as by default) pinned with `taskset "
        f"-c {GATEWAY_CORE}`. Upstream: `tokenward simulate` (no delays) pinned to core "
        f"{LOAD_CORE}, with wrk, the streams client and this script.",
        "- The bench config declares the simulator as an `openai`-kind provider with "
        "`max_connections` raised to fit the 1,000-stream step (the default pool of 512 "
        "would queue half of them), an `anthropic`-kind provider for the translation step, "
        f"and simulator replies of {STREAM_CHUNKS} words when a request names no length; "
        "nothing else differs from the defaults.",
        "- Load: `wrk -t1 -c<N> -d<T>s --latency -s bench/wrk.lua` (POST body and key from "
        "the environment; the script prints its summary and percentiles as JSON). The same "
        "body goes to the upstream directly and through the gateway: model `sim-small`, "
        f"`metadata.sim_output_tokens = {STREAM_CHUNKS}` (a {STREAM_CHUNKS}-word reply; as a "
        f"stream, {STREAM_CHUNKS} content chunks, then finish and usage chunks), streams "
        "with `stream_options.include_usage`.",
        f"- Warm-up: {plan.warmup_s} s at 64 connections per target and mode before the "
        f"latency, throughput, translation and guard runs. Runs: {plan.run_s} s each. "
        "Latency: 1 connection, non-stream, direct then gateway; added = gateway "
        "percentile minus direct percentile.",
        "- Throughput: 32 and 64 connections, non-stream and stream, direct then gateway. "
        "CPU per request: `/proc/<pid>/stat` utime + stime (all threads) of the gateway "
        "before and after each run, over the requests wrk completed.",
        "- Translation: the same CPU per request for three routes through the main gateway "
        "(OpenAI -> OpenAI, Anthropic client -> OpenAI upstream, OpenAI client -> Anthropic "
        "upstream), 32 connections, non-stream and stream; ratio = route / OpenAI -> OpenAI.",
        "- Guard: the same CPU per request, non-stream at 32 connections, of the main "
        "gateway (guard off, the default) and of a second gateway with guard on "
        "(`TOKENWARD_GUARD__ENABLED=true`), "
        "short and ~4,000-token prompts; then `bench/guard_bench.py` and "
        "`bench/limiter_bench.py` (its own redis-server) on both cores, gateways idle.",
        "- Start-up: spawn `tokenward serve`, poll a real chat completion every 10 ms until "
        f"200; {plan.startup_repeats} spawns.",
        f"- RSS (`VmRSS` of `/proc/<pid>/status`) of a fresh gateway: after its first "
        f"request, after {plan.rss_requests:,} more (wrk, 32 connections), and with "
        f"{plan.streams:,} concurrent streams from `bench/streams.py` "
        f"(`sim_output_tokens` {plan.stream_tokens}, `sim_chunk_delay_ms` "
        f"{plan.stream_delay_ms}: slow enough that the gateway core is not saturated by "
        "relaying chunks while the streams are held).",
        "- Profile: py-spy (pip-installed into the venv at bench time only) attached "
        f"for {plan.profile_s} s to the running gateway under 32 connections.",
        "",
    ]
