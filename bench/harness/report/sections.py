"""Sections 1-6 of RESULTS.md: latency, throughput, start-up, memory, profile."""

from __future__ import annotations

import json
from typing import Any

from harness.report.format import WRK_HEADER, md_table, render_wrk_row, section_origin


def latency_section(data: dict[str, Any], latency: dict[str, Any]) -> list[str]:
    return [
        "## 1. Added latency at low load" + section_origin(data, "latency"),
        "",
        *md_table(
            WRK_HEADER,
            [
                render_wrk_row("direct upstream", latency["direct"], True),
                render_wrk_row("gateway", latency["gateway"], True),
            ],
        ),
        "",
        "Added by the gateway: "
        + ", ".join(f"{p} {v:+.3f} ms" for p, v in latency["added_ms"].items())
        + ".",
        "",
    ]


def throughput_section(data: dict[str, Any], throughput: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    for run in throughput["runs"]:
        rows.append(render_wrk_row(f"{run['mode']}, direct", run["direct"], True))
        rows.append(
            render_wrk_row(f"{run['mode']}, gateway ({run['ratio']:.2f}x)", run["gateway"], True)
        )
    return [
        "## 2-3. Throughput of one worker, CPU per request" + section_origin(data, "throughput"),
        "",
        *md_table(WRK_HEADER, rows),
        "",
        "CPU ms/req = (utime + stime) of the process over the run / requests completed; "
        "core busy = that CPU time / wall time (100% = the pinned core was saturated). "
        "In direct runs the upstream shares core 1 with wrk; in gateway runs the "
        "upstream, wrk (and nothing else) share core 1.",
        "",
    ]


def startup_section(data: dict[str, Any], startup: dict[str, Any]) -> list[str]:
    return [
        "## 4. Start-up" + section_origin(data, "startup"),
        "",
        "Seconds from spawning `taskset -c 0 tokenward serve` to the first `200` of a "
        "real chat completion (polled every 10 ms): "
        + ", ".join(f"{s:.3f}" for s in startup["seconds"])
        + f" s (median {startup['median_s']:.3f} s). The first spawn of a run also "
        "creates the first-start admin/demo keys.",
        "",
    ]


def rss_section(data: dict[str, Any], rss: dict[str, Any]) -> list[str]:
    s = rss["streams"]
    return [
        "## 5. Memory (VmRSS)" + section_origin(data, "rss"),
        "",
        *md_table(
            ("Moment", "Gateway RSS", "Upstream RSS", "Notes"),
            [
                ["after the first request", f"{rss['idle_kib'] / 1024:.1f} MiB", "-", ""],
                [
                    f"after {rss['requests']:,} requests (non-stream, 32 conns)",
                    f"{rss['after_requests_kib'] / 1024:.1f} MiB",
                    f"{s['upstream_before_kib'] / 1024:.1f} MiB",
                    "",
                ],
                [
                    f"{s['ready']['open']:,} streams open at once",
                    f"{s['gateway_kib'] / 1024:.1f} MiB",
                    f"{s['upstream_kib'] / 1024:.1f} MiB",
                    f"{s['per_stream_kib']} KiB/stream over the previous line; "
                    f"{s['gateway_fds']} open fds; all first chunks after "
                    f"{s['ready']['seconds_to_all_first_chunks']:.1f} s",
                ],
                [
                    "after the client closed them and the gateway drained them",
                    f"{s['after_close_kib'] / 1024:.1f} MiB",
                    "-",
                    "",
                ],
            ],
        ),
        "",
        f"Streams: {s['requested']:,} requests opened at once by `bench/streams.py` "
        f"(asyncio + aiohttp, core 1), each asking the simulator for "
        f"{s['output_tokens']} chunks {s['chunk_delay_ms']} ms apart; RSS sampled once "
        f"every stream had its first chunk (client report: {json.dumps(s['ready'])}; "
        f"after close: {json.dumps(s['done'])}).",
        "",
    ]


def profile_section(data: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    lines = [
        "## 6. Profile of the hot path" + section_origin(data, "profile"),
        "",
        f"{profile['tool']}, `record --nonblocking --rate 250 --format raw`, attached to "
        f"the gateway during a 32-connection wrk run; shares are of on-CPU samples "
        f"(idle excluded). Collapsed stacks: `bench/out/profile-*.collapsed` (open them "
        f"in https://speedscope.app).",
        "",
    ]
    for mode in ("non-stream", "stream"):
        prof = profile.get(mode)
        if not prof:
            continue
        lines += [
            f"### {mode} ({prof['samples']:,} samples, {prof['rps_while_profiling']:,.0f} "
            f"req/s while sampled)",
            "",
            f"{prof['worker_thread_share']}% of the samples are on worker threads (the "
            "ledger writer, `asyncio.to_thread`), the rest on the event loop; "
            f"{prof.get('waiting_share', 0)}% more were threads blocked in a queue, lock "
            "or GIL wait and are left out.",
            "",
            "Own time by function (top 10):",
            "",
            *md_table(
                ("#", "Function (file)", "Share"),
                [
                    [str(i), f"`{name}`", f"{pct}%"]
                    for i, (name, pct) in enumerate(prof["own_by_function"][:10], 1)
                ],
            ),
            "",
            "Own time by module / package:",
            "",
            *md_table(
                ("Module or package", "Share"),
                [[f"`{name}`", f"{pct}%"] for name, pct in prof["own_by_module"][:12]],
            ),
            "",
            "Inclusive time of Tokenward functions (this frame and everything it calls):",
            "",
            *md_table(
                ("Function (file)", "Share"),
                [[f"`{name}`", f"{pct}%"] for name, pct in prof["inclusive_tokenward"][:12]],
            ),
            "",
        ]
    return lines
