"""Hold many streaming chat completions open at once (the RSS-under-streams step of run.py).

    python bench/streams.py --url http://127.0.0.1:4000/v1/chat/completions --key tw-... \
        --count 1000 --output-tokens 100 --chunk-delay-ms 200

Opens `--count` streaming requests at once, each asking the simulator upstream for a long,
slow reply (`metadata.sim_output_tokens`, `metadata.sim_chunk_delay_ms`), keeps reading
them, and as soon as every stream has received its first `data:` chunk (or
`--open-timeout` passed) prints one line ``READY {json}`` on stdout. It then waits for a
line on stdin (run.py samples the gateway's RSS meanwhile), closes every stream, and
prints ``DONE {json}``. Only loopback traffic; bounded by `--open-timeout` and
`--hold-timeout`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class Tally:
    """What happened to the streams, for the READY and DONE lines."""

    count: int
    first_chunk: int = 0
    open_now: int = 0
    ended_early: int = 0
    closed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    all_first: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self._check()

    def _check(self) -> None:
        if self.first_chunk + sum(self.errors.values()) >= self.count:
            self.all_first.set()

    def got_first(self) -> None:
        self.first_chunk += 1
        self.open_now += 1
        self._check()


def raise_fd_limit(needed: int) -> int:
    """Lift the soft open-files limit towards `needed` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


async def _drain(response: aiohttp.ClientResponse, tally: Tally) -> None:
    """Keep consuming the stream like a real client; note if it ends before release."""
    while await response.content.readany():
        pass
    if not tally.release.is_set():
        tally.ended_early += 1
        tally.open_now -= 1


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally) -> None:
    try:
        async with session.post(url, data=body) as response:
            if response.status != 200:
                tally.error(f"http_{response.status}")
                await response.read()
                return
            seen = b""
            while b"data:" not in seen:
                chunk = await response.content.readany()
                if not chunk:
                    tally.error("ended_before_first_chunk")
                    return
                seen += chunk
            tally.got_first()
            reader = asyncio.ensure_future(_drain(response, tally))
            await tally.release.wait()
            if not reader.done():
                tally.closed += 1
            reader.cancel()
            response.close()  # drop the connection mid-stream, as a leaving client does
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        tally.error(type(exc).__name__)


async def _stdin_line() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def hold(args: argparse.Namespace) -> None:
    limit = raise_fd_limit(args.count + 256)
    body = json.dumps(
        {
            "model": args.model,
            "messages": [{"role": "user", "content": "Stream a long answer, slowly."}],
            "stream": True,
            "metadata": {
                "sim_output_tokens": str(args.output_tokens),
                "sim_chunk_delay_ms": str(args.chunk_delay_ms),
            },
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.key}"}
    tally = Tally(args.count)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=args.hold_timeout)
    started = time.perf_counter()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:
        tasks = [
            asyncio.ensure_future(_one(session, args.url, body, tally)) for _ in range(args.count)
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.all_first.wait(), args.open_timeout)
        ready = {
            "requested": args.count,
            "first_chunk": tally.first_chunk,
            "open": tally.open_now,
            "ended_early": tally.ended_early,
            "errors": dict(tally.errors),
            "seconds_to_all_first_chunks": round(time.perf_counter() - started, 3),
            "fd_limit": limit,
        }
        print("READY " + json.dumps(ready), flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_stdin_line(), args.hold_timeout)
        tally.release.set()
        await asyncio.wait(tasks, timeout=30)
        for task in tasks:
            task.cancel()
    done: dict[str, Any] = {
        "closed": tally.closed,
        "ended_early": tally.ended_early,
        "errors": dict(tally.errors),
    }
    print("DONE " + json.dumps(done), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="chat completions URL (loopback)")
    parser.add_argument("--key", required=True, help="API key of the gateway")
    parser.add_argument("--model", default="sim-small")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--output-tokens", type=int, default=100)
    parser.add_argument("--chunk-delay-ms", type=float, default=200.0)
    parser.add_argument("--open-timeout", type=float, default=60.0)
    parser.add_argument("--hold-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error("--url must point at 127.0.0.1")
    asyncio.run(hold(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
