"""The step `profile`: py-spy attached to the gateway under load, summarised."""

from __future__ import annotations

import functools
import linecache
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from harness.bench import Bench
from harness.config import (
    CONNECTIONS,
    NONSTREAM_BODY,
    OUT,
    PY_SPY,
    ROOT,
    STREAM_BODY,
    BenchError,
)
from harness.procs import pinned


def ensure_py_spy() -> Path:
    """py-spy in the venv, installed from PyPI on first use (a bench-only tool)."""
    if not PY_SPY.exists():
        print("installing py-spy into the venv (bench-only) ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=False, timeout=300
        )
    if not PY_SPY.exists():
        raise BenchError("py-spy is not available: `.venv/bin/pip install py-spy`")
    return PY_SPY


def py_spy_version(spy: Path) -> str:
    out = subprocess.run([str(spy), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or "py-spy"


def step_profile(bench: Bench) -> dict[str, Any]:
    spy = ensure_py_spy()
    gateway = bench.main_gateway()
    bench.wrk("gateway", NONSTREAM_BODY, max(CONNECTIONS), bench.plan.warmup_s, retry=False)
    OUT.mkdir(exist_ok=True)
    profiles: dict[str, Any] = {"tool": py_spy_version(spy)}
    for mode, body in (("non-stream", NONSTREAM_BODY), ("stream", STREAM_BODY)):
        out = OUT / f"profile-{mode}.collapsed"
        out.unlink(missing_ok=True)
        args = pinned(
            bench.load_core,
            [
                str(spy),
                "record",
                "--pid",
                str(gateway.pid),
                "--duration",
                str(bench.plan.profile_s),
                "--rate",
                "250",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
        )
        with (bench.tmp / "py-spy.log").open("ab") as log:
            spy_proc = subprocess.Popen(args, stdout=log, stderr=log)
            try:
                run = bench.wrk("gateway", body, 32, bench.plan.profile_s + 2, retry=False)
                spy_proc.wait(timeout=30)
            finally:
                if spy_proc.poll() is None:
                    spy_proc.kill()
                    spy_proc.wait()
        if not out.exists():
            log_text = (bench.tmp / "py-spy.log").read_text(errors="replace")[-2000:]
            raise BenchError(f"py-spy wrote no profile:\n{log_text}")
        summary = summarise_profile(out)
        summary["rps_while_profiling"] = run["rps"]
        summary["file"] = str(out.relative_to(ROOT))
        profiles[mode] = summary
    return profiles


_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
#: top frames that mean "inside the event loop's own C code" (uvloop: I/O, callbacks)
_LOOP_FRAMES = ("Runner.run", "run_until_complete", "BaseEventLoop.run_forever")
#: a sample whose innermost line is one of these calls is a thread blocked (in a queue
#: get, a lock, a GIL hand-over after a wake-up), which py-spy cannot always tell from work
_WAIT_CALLS = (".get(block=True)", ".acquire(", ".wait(", "sleep(", ".select(")


def _split_frame(frame: str) -> tuple[str, str, int]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, "?", 0
    return match["name"], match["file"], int(match["line"] or 0)


@functools.cache
def _source_line(file: str, line: int) -> str:
    """The source text of a py-spy frame (its paths are relative to a sys.path entry)."""
    for base in sys.path:
        candidate = Path(base or ".") / file
        if candidate.is_file():
            return linecache.getline(str(candidate), line).strip()
    return ""


def _area(file: str) -> str:
    """The module (our code) or the package (everything else) a frame belongs to."""
    if file.startswith("tokenward/"):
        return file.removesuffix(".py").replace("/", ".")
    top = file.split("/", 1)[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return f"{top} (stdlib)"
    return top


def summarise_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Own time by function and by module, inclusive time of Tokenward functions.

    Shares are of the samples py-spy took while a thread was not idle, minus those
    blocked in a wait (`_WAIT_CALLS`, reported as `waiting_share`).
    """
    total = waiting = threads = 0
    own_fn: Counter[str] = Counter()
    own_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for text in path.read_text(errors="replace").splitlines():
        stack, _, count_text = text.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        name, file, line = _split_frame(frames[-1])
        if any(call in _source_line(file, line) for call in _WAIT_CALLS):
            waiting += count
            continue
        total += count
        if frames[0].startswith("Thread._bootstrap"):
            threads += count
        if name in _LOOP_FRAMES or file.startswith("uvicorn/_compat"):
            own_fn["[event loop: uvloop C code, socket I/O]"] += count
            own_area["uvloop (native)"] += count
        else:
            own_fn[f"{name} ({file})"] += count
            own_area[_area(file)] += count
        seen: set[str] = set()
        for frame in frames:
            name, file, _ = _split_frame(frame)
            if file.startswith("tokenward/") and not file.startswith("tokenward/cli"):
                label = f"{name} ({file})"
                if label not in seen:
                    seen.add(label)
                    inclusive[label] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return (
            [[k, round(100 * v / total, 1)] for k, v in counter.most_common(top)] if total else []
        )

    return {
        "samples": total,
        "waiting_share": round(100 * waiting / (total + waiting), 1) if total else 0.0,
        "worker_thread_share": round(100 * threads / total, 1) if total else 0.0,
        "own_by_function": share(own_fn),
        "own_by_module": share(own_area),
        "inclusive_tokenward": share(inclusive),
    }
