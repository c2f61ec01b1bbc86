"""The summary table: one row per target (and per informative number) of every step."""

from __future__ import annotations

from typing import Any

from harness.config import CONNECTIONS, STREAM_CHUNKS, TARGETS
from harness.report.format import ms, rps, verdict

Row = list[str]


def summary_rows(data: dict[str, Any]) -> list[Row]:
    """[measure, direct, gateway, gateway vs direct, target, status] rows."""
    sections = data.get("sections", {})

    def of(name: str) -> Any:
        return sections.get(name, {}).get("data")

    rows: list[Row] = []
    if of("latency"):
        rows += _latency_rows(of("latency"))
    if of("throughput"):
        rows += _throughput_rows(of("throughput"))
    if of("startup"):
        rows += _startup_rows(of("startup"))
    if of("rss"):
        rows += _rss_rows(of("rss"))
    if of("translation"):
        rows += _translation_rows(of("translation"))
    if of("guard"):
        rows += _guard_rows(of("guard"))
    return rows


def _latency_rows(latency: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for p, target in (("p50", "added_p50_ms"), ("p99", "added_p99_ms")):
        added = latency["added_ms"][p]
        rows.append(
            [
                f"Latency {p}, 1 connection, non-stream",
                ms(latency["direct"]["latency_us"][p]),
                ms(latency["gateway"]["latency_us"][p]),
                f"{added:+.2f} ms",
                f"<= +{TARGETS[target]:g} ms",
                verdict(added <= TARGETS[target]),
            ]
        )
    return rows


def _throughput_rows(throughput: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for run in throughput["runs"]:
        stream = run["mode"] == "stream"
        floor = TARGETS["stream_rps" if stream else "nonstream_rps"]
        label = f"stream ({STREAM_CHUNKS} chunks)" if stream else "non-stream"
        rows.append(
            [
                f"Throughput {label}, {run['connections']} connections",
                rps(run["direct"]["rps"]),
                rps(run["gateway"]["rps"]),
                f"{run['ratio']:.2f}x",
                f">= {floor:,.0f} req/s",
                verdict(run["gateway"]["rps"] >= floor),
            ]
        )
    for run in throughput["runs"]:
        if run["connections"] == CONNECTIONS[0]:
            cpu = run["gateway"]["cpu"]["gateway"]
            floor = TARGETS["stream_rps" if run["mode"] == "stream" else "nonstream_rps"]
            capacity = 1000 / cpu["ms_per_request"] if cpu["ms_per_request"] else 0.0
            rows.append(
                [
                    f"Gateway CPU per request, {run['mode']}, {run['connections']} conn.",
                    "-",
                    f"{cpu['ms_per_request']:.3f} ms",
                    f"= {capacity:,.0f} req/s per busy core (core was "
                    f"{100 * cpu['core_share']:.0f}% busy)",
                    f">= {floor:,.0f} req/s",
                    "implies " + verdict(capacity >= floor),
                ]
            )
    return rows


def _translation_rows(translation: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    limit = TARGETS["translation_ratio"]
    for mode, ratios in translation["ratios"].items():
        cpu = translation["cpu_ms"][mode]
        base = cpu[translation["baseline"]]
        for route, ratio in ratios.items():
            if ratio is None:
                continue
            rows.append(
                [
                    f"Translation CPU/req, {translation['routes'][route]}, {mode}",
                    "-",
                    f"{cpu[route]:.3f} ms",
                    f"{ratio:.2f}x OpenAI -> OpenAI ({base:.3f} ms)",
                    f"<= {limit:.2f}x",
                    verdict(ratio <= limit),
                ]
            )
    return rows


def _guard_rows(guard: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    limit = TARGETS["guard_long_added_ms"]
    for prompt, added in guard["added"].items():
        cpu = guard["cpu_ms"][prompt]
        long = prompt == "long"
        what = f"~{guard['long_prompt_tokens']:,}-token prompt" if long else "short prompt"
        rows.append(
            [
                f"Guard CPU/req added, {what}, non-stream",
                "-",
                f"{cpu['on']:.3f} ms (off: {cpu['off']:.3f} ms)",
                f"{added['ms']:+.3f} ms ({100 * added['share']:+.0f}%)",
                f"<= +{limit:g} ms (guard_bench p50 target)" if long else "-",
                verdict(added["ms"] <= limit) if long else "info",
            ]
        )
    return rows


def _startup_rows(startup: dict[str, Any]) -> list[Row]:
    return [
        [
            "Start-up to first served request",
            "-",
            f"{startup['median_s']:.2f} s",
            "median of " + ", ".join(f"{s:.2f}" for s in startup["seconds"]) + " s",
            "-",
            "info",
        ]
    ]


def _rss_rows(rss: dict[str, Any]) -> list[Row]:
    s = rss["streams"]
    return [
        [
            f"RSS after {rss['requests']:,} requests",
            "-",
            f"{rss['after_requests_kib'] / 1024:.1f} MiB",
            f"idle {rss['idle_kib'] / 1024:.1f} MiB",
            "-",
            "info",
        ],
        [
            f"RSS with {s['ready']['open']:,} open streams",
            f"{s['upstream_kib'] / 1024:.1f} MiB",
            f"{s['gateway_kib'] / 1024:.1f} MiB",
            f"{s['per_stream_kib']} KiB per stream" if s["per_stream_kib"] else "-",
            "-",
            "info",
        ],
    ]
