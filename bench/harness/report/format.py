"""Number formats, tables (Markdown and text), and the row of one wrk run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.wrk import error_count

SUMMARY_HEADER = ("Measure", "Direct upstream", "Gateway", "Gateway vs direct", "Target", "")

WRK_HEADER = (
    "Run",
    "Conns",
    "req/s",
    "p50",
    "p99",
    "max",
    "Errors",
    "Gateway CPU ms/req",
    "Gateway core busy",
    "Upstream CPU ms/req",
    "Other processes",
)


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def section_origin(data: dict[str, Any], name: str) -> str:
    """`_(measured <date> at <commit>)_` when a section is older than this run."""
    meta = data["sections"][name]["meta"]
    parts = []
    if meta != data["meta"]:
        parts.append(f"measured {meta['date']} at {meta['commit']}")
    if meta.get("quick"):
        parts.append("`--quick` run")
    return f" _({'; '.join(parts)})_" if parts else ""


def render_wrk_row(label: str, run: dict[str, Any], with_cpu: bool) -> list[str]:
    lat = run["latency_us"]
    row = [
        label + (" (repeated: machine was busy)" if run.get("repeated") else ""),
        str(run["connections"]),
        f"{run['rps']:,.0f}",
        ms(lat["p50"]),
        ms(lat["p99"]),
        ms(lat["max"]),
        str(error_count(run)),
    ]
    upstream = run["cpu"].get("upstream", {})
    gateway = run["cpu"].get("gateway")
    if with_cpu:
        row += [
            f"{gateway['ms_per_request']:.3f}" if gateway else "-",
            f"{100 * gateway['core_share']:.0f}%" if gateway else "-",
            f"{upstream['ms_per_request']:.3f}" if upstream else "-",
        ]
    background = run.get("background")
    row.append(
        f"{background['other_cores']:.2f} cores, steal {100 * background['steal_share']:.0f}%"
        if background
        else "-"
    )
    return row
