"""Sections 7-10 of RESULTS.md: translation overhead, guard cost, the micro-benchmarks."""

from __future__ import annotations

from typing import Any

from harness.compare import gateway_ms
from harness.config import TARGETS
from harness.report.format import WRK_HEADER, md_table, render_wrk_row, section_origin, verdict

MICRO_TITLES = {
    "guard_bench": "Guard micro-benchmark",
    "limiter_bench": "Limiter micro-benchmark",
}


def translation_section(data: dict[str, Any], translation: dict[str, Any]) -> list[str]:
    limit = TARGETS["translation_ratio"]
    routes: dict[str, str] = translation["routes"]
    baseline = translation["baseline"]
    base_runs = {
        (e["mode"], e["round"]): gateway_ms(e["run"])
        for e in translation["runs"]
        if e["route"] == baseline
    }
    rows: list[list[str]] = []
    for entry in translation["runs"]:
        base = base_runs.get((entry["mode"], entry["round"]))
        if entry["route"] == baseline or not base:
            suffix = "baseline"
        else:
            suffix = f"{gateway_ms(entry['run']) / base:.2f}x"
        label = f"{entry['mode']}, {entry['label']}, round {entry['round']} ({suffix})"
        rows.append(render_wrk_row(label, entry["run"], True))
    ratio_rows: list[list[str]] = []
    for route, label in routes.items():
        cells: list[str] = []
        ok = True
        for mode in ("non-stream", "stream"):
            cpu = translation["cpu_ms"].get(mode, {}).get(route)
            ratio = translation["ratios"].get(mode, {}).get(route)
            cells.append(f"{cpu:.3f} ms" if cpu is not None else "-")
            cells.append("baseline" if route == baseline else f"{ratio:.2f}x" if ratio else "-")
            ok = ok and (route == baseline or (ratio is not None and ratio <= limit))
        target = "-" if route == baseline else f"<= {limit:.2f}x"
        ratio_rows.append([label, *cells, target, "" if route == baseline else verdict(ok)])
    header = ("Route", "non-stream CPU/req", "ratio", "stream CPU/req", "ratio", "Target", "")
    return [
        "## 7. Translation overhead" + section_origin(data, "translation"),
        "",
        "Issue 3: translation adds no more than 20% to the gateway's own CPU time per "
        "request, against a straight OpenAI-to-OpenAI request measured in the same run. "
        f"Same gateway process, {translation['connections']} connections; per mode, "
        f"{translation['rounds']} interleaved rounds of {translation['round_s']} s per route "
        f"(each round's ratio in brackets). Every route asks for `max_tokens` = "
        f"{translation['reply_words']} and gets a {translation['reply_words']}-word reply "
        f"({translation['reply_words']} content chunks as a stream).",
        "",
        *md_table(WRK_HEADER, rows),
        "",
        "Gateway CPU per request of each route over all its rounds (CPU time / requests), "
        "and its ratio to OpenAI client -> OpenAI upstream:",
        "",
        *md_table(header, ratio_rows),
        "",
        "Routes: OpenAI client -> `POST /v1/chat/completions` -> the OpenAI-dialect "
        "simulator (baseline); Anthropic client -> `POST /v1/messages` (`x-api-key`, body "
        "`model`, `max_tokens`, `messages`) -> the same simulator (request and reply "
        "translated); OpenAI client -> an `anthropic`-kind provider -> a second simulator "
        "started with `tokenward simulate --dialect anthropic` on core 1 (the Upstream "
        "column books whichever simulator served the route).",
        "",
    ]


def guard_section(data: dict[str, Any], guard: dict[str, Any]) -> list[str]:
    prompts = {"short": "short", "long": f"~{guard['long_prompt_tokens']:,}-token"}
    rows = [
        render_wrk_row(
            f"{prompts[r['prompt']]} prompt, guard {r['guard']}, round {r['round']}", r["run"], True
        )
        for r in guard["runs"]
    ]
    added_rows: list[list[str]] = []
    for prompt, added in guard["added"].items():
        cpu = guard["cpu_ms"][prompt]
        added_rows.append(
            [
                f"{prompts[prompt]} prompt",
                f"{cpu['on']:.3f} ms",
                f"{cpu['off']:.3f} ms",
                f"{added['ms']:+.3f} ms",
                f"{100 * added['share']:+.1f}%",
            ]
        )
    return [
        "## 8. Guard cost" + section_origin(data, "guard"),
        "",
        "The main gateway (no guard policy: the guard off, the default) and a second one started "
        "with `TOKENWARD_GUARD__ENABLED=true`, on the same core, loaded in turn: "
        f"{guard['rounds']} interleaved rounds of {guard['round_s']} s each; non-stream, "
        f"{guard['connections']} connections. Prompts: the short one of the other steps, and "
        f"~{guard['long_prompt_tokens']:,} tokens of English and Chinese prose "
        f"({guard['long_prompt_bytes']:,}-byte body; nothing in it to redact or block, so "
        "both gateways forward the same request).",
        "",
        *md_table(WRK_HEADER, rows),
        "",
        "CPU per request over all rounds (CPU time / requests):",
        "",
        *md_table(
            ("Prompt", "Guard on CPU/req", "Guard off CPU/req", "Added by the guard", ""),
            added_rows,
        ),
        "",
    ]


def micro_sections(data: dict[str, Any], guard: dict[str, Any], first: int) -> list[str]:
    lines: list[str] = []
    for number, (name, result) in enumerate(guard.get("micro", {}).items(), first):
        title = MICRO_TITLES.get(name, name)
        status = "" if result["returncode"] == 0 else f", exit {result['returncode']}"
        lines += [
            f"## {number}. {title} (`bench/{name}.py`)" + section_origin(data, "guard"),
            "",
            f"`{result['command']}` ({result['seconds']:.0f} s{status}; in-process, run by "
            "the `guard` step while the gateways were idle), its output verbatim:",
            "",
            "```text",
            result["output"],
            "```",
            "",
        ]
    return lines
