"""The step `guard`: the gateway's CPU per request with the guard on and off (the default).

Two gateways on the same core, one after the other: the main one (no `[guard]` policy:
the guard is off, the default) and one started with `TOKENWARD_GUARD__ENABLED=true`
(the default policy: secrets redacted, everything else logged), in
interleaved rounds (`harness.compare`); non-stream at 32 connections, with the short
prompt of the other steps and with a ~4,000-token prompt of English and Chinese prose
(nothing in it for the guard to redact or block, so both gateways forward the same
request). Then bench/guard_bench.py and bench/limiter_bench.py, when present, with
their printed summaries kept verbatim.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.bench import Bench
from harness.compare import interleave, pooled_ms
from harness.config import (
    BENCH,
    GUARD_BENCH,
    LIMITER_BENCH,
    MODEL,
    NONSTREAM_BODY,
    ROOT,
    STEP_CONNECTIONS,
    STREAM_CHUNKS,
    compact,
)
from harness.procs import pinned

LONG_PROMPT_TOKENS = 4000

EN = (
    "The quarterly report shows steady growth in active users across all regions.",
    "Please summarise the main risks and propose three mitigations for the next release.",
    "We migrated the billing service to the new cluster last week and saw latency drop.",
    "Customer feedback on the onboarding flow was mostly positive, with a few complaints.",
    "The support team resolved most tickets within a day, but escalations took longer.",
    "Marketing plans a spring campaign focused on small teams and education customers.",
)
ZH = (
    "本季度活跃用户稳步增长，各地区表现均衡。",
    "请总结主要风险，并为下个版本提出三条改进建议。",
    "我们上周把计费服务迁移到新集群，延迟明显下降。",
    "客户对新手引导流程的反馈总体积极，但也有少量投诉。",
    "支持团队大多数工单在一天内解决，升级处理耗时较长。",
    "市场部计划在春季推出面向小团队和教育客户的活动。",
)


def long_prompt(tokens: int = LONG_PROMPT_TOKENS, seed: int = 3) -> str:
    """Deterministic English and Chinese prose of about `tokens` tokens (metering's estimate)."""
    from tokenward.metering.estimate import estimate_text_tokens

    rng = random.Random(seed)
    parts: list[str] = []
    while estimate_text_tokens("".join(parts)) < tokens:
        for _ in range(rng.randint(2, 5)):
            parts.append(rng.choice(EN) + " ")
        parts.append("".join(rng.choice(ZH) for _ in range(rng.randint(2, 5))) + "\n")
    return "".join(parts)


def long_body() -> tuple[str, int]:
    from tokenward.metering.estimate import estimate_text_tokens

    prompt = long_prompt()
    body = compact(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "metadata": {"sim_output_tokens": str(STREAM_CHUNKS)},
        }
    )
    return body, estimate_text_tokens(prompt)


def step_guard(bench: Bench) -> dict[str, Any]:
    plan = bench.plan
    body_long, long_tokens = long_body()
    prompts = (("short", NONSTREAM_BODY), ("long", body_long))
    bench.main_gateway()
    on_proc, on_port, _ = bench.spawn_gateway({"TOKENWARD_GUARD__ENABLED": "true"})
    runs: list[dict[str, Any]] = []
    cpu_ms: dict[str, dict[str, float]] = {}
    try:
        guard_on = bench.through(on_proc, on_port, label="gateway (guard on)")
        guard_off = bench.through(bench.main_gateway(), bench.gw_port, label="gateway (guard off)")
        for prompt, body in prompts:
            for target in (guard_on, guard_off):
                bench.load(target, body, 64, plan.warmup_s, retry=False)
            time.sleep(0.5)
            variants = [("on", guard_on, body), ("off", guard_off, body)]
            by_guard = interleave(bench, variants, STEP_CONNECTIONS, tag=f"{prompt:5} guard ")
            for number in range(plan.compare_rounds):
                for guard in ("on", "off"):
                    run = by_guard[guard][number]
                    runs.append({"prompt": prompt, "guard": guard, "round": number + 1, "run": run})
            cpu_ms[prompt] = {
                guard: pooled_ms(guard_runs) for guard, guard_runs in by_guard.items()
            }
    finally:
        on_proc.stop()
    added = {
        prompt: {
            "ms": round(cpu["on"] - cpu["off"], 4),
            "share": round(cpu["on"] / cpu["off"] - 1, 3) if cpu["off"] else 0.0,
        }
        for prompt, cpu in cpu_ms.items()
    }
    return {
        "connections": STEP_CONNECTIONS,
        "rounds": plan.compare_rounds,
        "round_s": plan.compare_s,
        "long_prompt_tokens": long_tokens,
        "long_prompt_bytes": len(body_long.encode()),
        "runs": runs,
        "cpu_ms": cpu_ms,
        "added": added,
        "micro": micro_benches(bench),
    }


def micro_benches(bench: Bench) -> dict[str, Any]:
    """bench/guard_bench.py and bench/limiter_bench.py (when present), output verbatim."""
    found: dict[str, Any] = {}
    quick = ["--quick"] if bench.plan.quick else []
    for script, args in (
        (GUARD_BENCH, quick),
        (LIMITER_BENCH, ["-n", str(bench.plan.limiter_requests)]),
    ):
        if not script.exists():
            continue
        print(f"  {script.relative_to(ROOT)} {' '.join(args)} ...", flush=True)
        found[script.stem] = run_script(bench, script, args)
        if found[script.stem]["returncode"] != 0:
            bench.notes.append(
                f"{script.relative_to(ROOT)} exited with {found[script.stem]['returncode']}"
            )
    return found


def run_script(bench: Bench, script: Path, args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            pinned(bench.all_cores, [sys.executable, str(script), *args]),
            env=bench.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output, code = (done.stdout + done.stderr).rstrip(), done.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = f"timed out after {exc.timeout:.0f} s", -1
    return {
        "command": " ".join([f"bench/{script.relative_to(BENCH)}", *args]),
        "seconds": round(time.perf_counter() - started, 1),
        "returncode": code,
        "output": output,
    }
