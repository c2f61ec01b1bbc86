"""What the simulator served: the usage journal (the test oracle), counters and stats.

The journal is "what the upstream would bill": one JSON line per served request,
appended with ``O_APPEND`` and fsynced from one worker thread so the event loop never
blocks on the disk. Entries that arrive while a write is in progress are written
together (group commit), which keeps the journal cheap under load.

Entry fields: ``request_id`` (the ``x-request-id`` header, else generated), ``attempt``
(how many times this process has seen that id), ``endpoint`` (``chat/completions``,
``messages`` or ``embeddings``), ``dialect`` (the shape the reply was rendered in:
``anthropic`` or an OpenAI-compatible vendor), ``model``, ``stream``, ``include_usage``,
then the billed usage in ONE canonical shape whatever the dialect (OpenAI's convention,
as `metering.Usage`): ``prompt_tokens`` (ALL input, cache reads and writes included;
Anthropic's ``input_tokens`` is ``prompt_tokens - cached_tokens - cache_write_tokens``),
``cached_tokens`` (cache reads), ``cache_write_tokens``, ``completion_tokens`` (planned,
the billed amount, reasoning included), ``reasoning_tokens``; a category the vendor
does not report is 0 (see `providers.simulator.dialects`). Then
``completion_tokens_sent`` (emitted before the end or a disconnect),
``chunks_planned`` / ``chunks_sent`` (generated-text chunks),
``completed``, ``client_disconnected``, ``disconnected_at``, ``fault``, ``status``
(HTTP status answered, null if the connection was dropped), ``tag``, ``started_at``,
``finished_at`` (unix seconds). Faults that produce no output (``error``,
``rate_limit``, ``timeout``, and ``broken`` on a non-stream reply) have zero completion
tokens: nothing to bill, but the attempt is recorded. Requests refused as invalid
(400 / 404) are not journaled. A stream is journaled just before its usage chunk (or
when it breaks or the client leaves), a non-stream reply just before its body is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

_log = logging.getLogger("tokenward.simulator")


@dataclass(slots=True)
class Attempt:
    """One served request, filled in as it runs and journaled once when it ends."""

    request_id: str
    attempt: int
    endpoint: str
    model: str
    stream: bool
    started_at: float
    include_usage: bool = False
    dialect: str = "openai"
    fault: str | None = None
    tag: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    chunks_planned: int = 0
    chunks_sent: int = 0
    completion_tokens_sent: int = 0
    completed: bool = False
    client_disconnected: bool = False
    disconnected_at: float | None = None
    status: int | None = None

    def entry(self, finished_at: float) -> dict[str, Any]:
        """The journal line, in a stable field order."""
        return {
            "request_id": self.request_id,
            "attempt": self.attempt,
            "endpoint": self.endpoint,
            "dialect": self.dialect,
            "model": self.model,
            "stream": self.stream,
            "include_usage": self.include_usage,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "completion_tokens_sent": self.completion_tokens_sent,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "chunks_planned": self.chunks_planned,
            "chunks_sent": self.chunks_sent,
            "completed": self.completed,
            "client_disconnected": self.client_disconnected,
            "disconnected_at": self.disconnected_at,
            "fault": self.fault,
            "status": self.status,
            "tag": self.tag,
            "started_at": self.started_at,
            "finished_at": finished_at,
        }


class Journal:
    """Append-only JSONL file plus a bounded in-memory copy of the latest entries."""

    def __init__(self, path: str | None, *, memory: int = 100_000) -> None:
        self.path = path
        self._memory: deque[dict[str, Any]] = deque(maxlen=memory)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._fd: int | None = None

    def entries(self) -> list[dict[str, Any]]:
        """The in-memory copy, oldest first."""
        return list(self._memory)

    def submit(self, entry: dict[str, Any]) -> asyncio.Future[None]:
        """Queue an entry; the future resolves once it is on disk (at once without a file)."""
        self._memory.append(entry)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if self.path is None:
            done.set_result(None)
            return done
        self._pending.append((orjson.dumps(entry) + b"\n", done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return done

    async def write(self, entry: dict[str, Any]) -> None:
        """Append an entry and wait until it is fsynced."""
        await self.submit(entry)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sim-journal")
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(
                    self._executor, self._append, b"".join(line for line, _ in batch)
                )
            except OSError:
                # the oracle is lost, not the request: say so loudly and keep serving
                _log.exception("simulator journal write failed (%s)", self.path)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            assert self.path is not None
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def _truncate(self) -> None:
        if self.path is not None and os.path.exists(self.path):
            os.truncate(self.path, 0)

    async def drain(self) -> None:
        """Wait until every queued entry is written."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def clear(self) -> None:
        """Forget every entry, in memory and on disk."""
        await self.drain()
        self._memory.clear()
        if self.path is not None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="sim-journal")
            await asyncio.get_running_loop().run_in_executor(self._executor, self._truncate)

    async def aclose(self) -> None:
        """Write what is queued, then release the file and the thread."""
        await self.drain()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class Recorder:
    """Per-process counters (attempts per request id, sightings per request) and the journal.

    Both maps are bounded (oldest keys forgotten first) so a long benchmark cannot grow
    them without limit.
    """

    def __init__(self, journal_path: str | None, *, max_keys: int = 200_000) -> None:
        self.journal = Journal(journal_path)
        self._max_keys = max_keys
        self._attempts: dict[str, int] = {}
        self._sightings: dict[str, int] = {}

    def _bump(self, table: dict[str, int], key: str) -> int:
        count = table.pop(key, 0)
        table[key] = count + 1  # re-inserted: the dict order is the recency order
        if len(table) > self._max_keys:
            del table[next(iter(table))]
        return count

    def attempt(self, request_id: str) -> int:
        """1 for the first time this request id is served, then 2, 3, ..."""
        return self._bump(self._attempts, request_id) + 1

    def sighting(self, request_key: str) -> int:
        """How many times this request (by hash) was seen before this one."""
        return self._bump(self._sightings, request_key)

    async def reset(self) -> None:
        """Forget counters and journal (``POST /_sim/reset``)."""
        self._attempts.clear()
        self._sightings.clear()
        await self.journal.clear()


class Stats:
    """Request counters the reliability tests read (`GET /_sim/stats`)."""

    def __init__(self) -> None:
        self.requests = self.in_flight = self.peak_in_flight = 0
        self.streams_open = self.peak_streams_open = 0
        self.tags: dict[str, dict[str, int]] = {}

    def enter(self, stream: bool, tag: str | None) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if stream:
            self.streams_open += 1
            self.peak_streams_open = max(self.peak_streams_open, self.streams_open)
        if tag is not None:
            row = self.tags.setdefault(tag, {"requests": 0, "in_flight": 0, "peak_in_flight": 0})
            row["requests"] += 1
            row["in_flight"] += 1
            row["peak_in_flight"] = max(row["peak_in_flight"], row["in_flight"])

    def leave(self, stream: bool, tag: str | None) -> None:
        self.in_flight -= 1
        if stream:
            self.streams_open -= 1
        if tag is not None and tag in self.tags:
            self.tags[tag]["in_flight"] -= 1

    def reset(self) -> None:
        """Zero the totals; peaks restart from what is open now."""
        self.requests = 0
        self.peak_in_flight, self.peak_streams_open = self.in_flight, self.streams_open
        self.tags = {
            k: {**v, "requests": 0, "peak_in_flight": v["in_flight"]}
            for k, v in self.tags.items()
            if v["in_flight"]
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "streams_open": self.streams_open,
            "peak_streams_open": self.peak_streams_open,
            "tags": self.tags,
        }


__all__ = ["Attempt", "Journal", "Recorder", "Stats"]
