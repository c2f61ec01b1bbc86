"""Guard benchmark: scanning throughput and added latency, in process, all detectors on.

    .venv/bin/python bench/guard_bench.py            # ~20 s
    .venv/bin/python bench/guard_bench.py --quick    # fewer rounds

Measures, on a deterministic mixed prompt (English prose, Chinese prose, code, JSON,
a few phone numbers, e-mails, IDs and keys, one Base64 blob):

    throughput  MB/s of UTF-8 input through `Scanner.scan` (role user, decoding on)
    prompt      `inspect_messages` on a ~4,000-token request (estimate as in metering):
                p50 / p99 added latency
    chunk       `StreamRedactor.feed` per streamed chunk (16-character SSE deltas of a
                reply of the same mix): p50 / p99, and the whole reply's total

Prints a table; writes nothing. The target is p50 <= 1 ms for the 4,000-token prompt.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import sys
import time
from collections.abc import Callable

from tokenward.guard import FINDING_TYPES, Policy, Scanner, StreamRedactor, inspect_messages
from tokenward.metering.estimate import estimate_text_tokens

EN = (
    "The quarterly report shows steady growth in active users across all regions. "
    "Please summarise the main risks and propose three mitigations for the next release. "
    "We migrated the billing service to the new cluster last week and saw latency drop. "
)
ZH = (
    "本季度活跃用户稳步增长，请总结主要风险并为下个版本提出三条改进建议。"
    "我们上周把计费服务迁移到新集群，延迟明显下降。"
)
CODE = (
    "def retry(fn, attempts=3):\n    for i in range(attempts):\n        try:\n"
    "            return fn()\n        except TimeoutError:\n            time.sleep(2 ** i)\n"
)
JSON = '{"order_id": 20240315123456, "status": "shipped", "items": [{"sku": "A-17", "qty": 2}]}\n'
SPICE = (
    "联系电话 13800138000，邮箱 ops@example.com。",
    "server 10.0.3.25 returned 502",
    "key=sk-proj-a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ01",
    "身份证 11010519900307123X 已核验",
)


def mixed_text(tokens: int, seed: int = 7, *, chinese: bool = True) -> str:
    """A deterministic prompt of about `tokens` tokens (metering's estimate)."""
    rng = random.Random(seed)
    parts: list[str] = []
    blob = base64.b64encode(rng.randbytes(600)).decode()
    parts.append(f"attachment: {blob}\n")
    kinds = (EN, EN, ZH, CODE, JSON) if chinese else (EN, EN, CODE, JSON)
    while estimate_text_tokens("".join(parts)) < tokens:
        parts.append(rng.choice(kinds))
        if rng.random() < 0.08:
            parts.append(rng.choice(SPICE if chinese else SPICE[1:3]) + "\n")
    return "".join(parts)


def timings(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(label: str, seconds: list[float]) -> None:
    print(f"{label:46} {pct(seconds, 0.5) * 1000:9.3f} {pct(seconds, 0.99) * 1000:9.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 100 if args.quick else 500

    scanner = Scanner()
    policy = Policy()
    prompt = mixed_text(4000)
    size = len(prompt.encode())
    messages = [
        {"role": "system", "content": "You are a careful analyst."},
        {"role": "user", "content": prompt},
    ]
    scanner.scan(prompt)  # warm caches

    scan_times = timings(lambda: scanner.scan(prompt), rounds)
    mbps = size / statistics.median(scan_times) / 1e6
    english = mixed_text(4000, chinese=False)
    english_times = timings(lambda: scanner.scan(english), rounds)
    english_mbps = len(english.encode()) / statistics.median(english_times) / 1e6
    inspect_times = timings(
        lambda: inspect_messages(messages, policy, "request", scanner=scanner), rounds
    )

    reply = mixed_text(1000, seed=11)
    chunks = [reply[i : i + 16] for i in range(0, len(reply), 16)]
    chunk_times: list[float] = []
    totals: list[float] = []
    for _ in range(max(3, rounds // 50)):
        redactor = StreamRedactor(scanner, redact=FINDING_TYPES)
        start_all = time.perf_counter()
        for chunk in chunks:
            start = time.perf_counter()
            redactor.feed(chunk)
            chunk_times.append(time.perf_counter() - start)
        redactor.flush()
        totals.append(time.perf_counter() - start_all)

    tokens = estimate_text_tokens(prompt)
    print(f"mixed prompt: {len(prompt)} chars, {size} bytes UTF-8, ~{tokens} tokens")
    print(f"{'measure':46} {'p50':>9} {'p99':>9}")
    print(f"{'Scanner.scan throughput, mixed (MB/s)':46} {mbps:9.1f}")
    print(f"{'Scanner.scan throughput, English (MB/s)':46} {english_mbps:9.1f}")
    row("Scanner.scan, 4k-token mixed prompt (ms)", scan_times)
    row("Scanner.scan, 4k-token English prompt (ms)", english_times)
    row("inspect_messages, 4k-token mixed request (ms)", inspect_times)
    row("StreamRedactor.feed per 16-char chunk (ms)", chunk_times)
    row(f"  whole ~1k-token reply, {len(chunks)} chunks (ms)", totals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
