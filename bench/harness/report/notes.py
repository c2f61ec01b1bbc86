"""Notes the data itself calls for, and the data block of the previous RESULTS.md."""

from __future__ import annotations

import json
from typing import Any

from harness.config import BUSY_NOTE_CORES, DATA_MARK, RESULTS_MD
from harness.machine import disturbance


def load_previous() -> dict[str, Any]:
    """The data block of the current RESULTS.md, to keep the steps not run this time."""
    try:
        text = RESULTS_MD.read_text()
    except OSError:
        return {}
    start = text.find(DATA_MARK)
    if start < 0:
        return {}
    end = text.find(" -->", start)
    try:
        data: dict[str, Any] = json.loads(text[start + len(DATA_MARK) : end])
    except (ValueError, json.JSONDecodeError):
        return {}
    return data


def _busy(run: dict[str, Any]) -> bool:
    return disturbance(run.get("background", {})) > BUSY_NOTE_CORES


def busy_runs(data: dict[str, Any]) -> list[str]:
    """The runs during which others (processes, steal) took more than `BUSY_NOTE_CORES`."""
    sections = data["sections"]
    found: list[str] = []
    latency = sections.get("latency", {}).get("data")
    for name in ("direct", "gateway") if latency else ():
        if _busy(latency[name]):
            found.append(f"latency {name}")
    for run in (sections.get("throughput", {}).get("data") or {}).get("runs", []):
        for name in ("direct", "gateway"):
            if _busy(run[name]):
                found.append(f"{run['mode']} c={run['connections']} {name}")
    for entry in (sections.get("translation", {}).get("data") or {}).get("runs", []):
        if _busy(entry["run"]):
            found.append(f"translation {entry['mode']} {entry['route']} #{entry['round']}")
    for entry in (sections.get("guard", {}).get("data") or {}).get("runs", []):
        if _busy(entry["run"]):
            found.append(f"guard {entry['guard']} {entry['prompt']} prompt #{entry['round']}")
    return found


def auto_notes(data: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    busy = busy_runs(data)
    if busy:
        notes.append(
            f"Other processes and the hypervisor (steal) took more than {BUSY_NOTE_CORES} "
            "cores during: "
            + ", ".join(busy)
            + " (see the 'Other processes' column); those numbers are pessimistic."
        )
    throughput = data["sections"].get("throughput", {}).get("data")
    if throughput:
        shares = [r["gateway"]["cpu"]["gateway"]["core_share"] for r in throughput["runs"]]
        if busy and min(shares) < 0.9:
            notes.append(
                "The gateway did not have its core to itself (other processes are not pinned), "
                "so its req/s understate it; CPU time per request, and the req/s it implies "
                "for one fully busy core, is the steadier number on a busy machine."
            )
        if min(shares) >= 0.9:
            notes.append(
                "The gateway's core was >= 90% busy in every throughput run: the numbers "
                "are its CPU limit, not the upstream's."
            )
        for run in throughput["runs"]:
            if run["direct"]["rps"] < run["gateway"]["rps"] * 1.2:
                notes.append(
                    f"{run['mode']} at {run['connections']} connections: the direct upstream "
                    "is barely faster than the gateway, so the upstream or wrk (core 1) may "
                    "bound the gateway number."
                )
    return notes
