"""Redis limiter: every replica sharing one Redis admits exactly what one process would.

One Lua script call per operation (`lua/acquire.lua`, `settle.lua`, `renew.lua`),
registered once per limiter and run by EVALSHA with a fallback to loading it (so
a restarted, empty Redis needs no restart of ours). Each script reads
`redis.call('TIME')`: the window's clock is the server's, never a replica's, so a
replica whose clock is 30 s off still counts exactly.

Keys, for a limit `LimitSpec.key` under the prefix (default `tw:lim`):
`<prefix>:<key>:z` (log or slots), `:a` (amounts), `:s` (running sum), and
`<prefix>:res:<reservation id>` (the lease); a session limit keeps its session's
end in `:e` instead of a log (its key ends in `:session`, so nothing is shared).
Every key carries a TTL a little longer than the longest-lived entry in it, so
idle limits and leaked leases vanish.
An acquire over several scopes touches several keys: this wants one Redis (or a
primary with replicas / Sentinel), not Redis Cluster. Use `noeviction` or a
`volatile-*` policy; the scripts resynchronise a log whose sum key was lost.

Store failures (refused, reset, timed out, BUSY, NOSCRIPT that cannot be
reloaded...) are raised as `LimiterUnavailable`, after at most `timeout` seconds
(50 ms by default, in the range Envoy uses); `ResilientLimiter` turns that into
the fail-open or fail-closed policy. The deadline covers the whole call (queueing
for a connection and the retry included), so an outage adds at most `timeout` to
a request. A call that timed out is indeterminate, as with any deadline: a frozen
Redis that wakes up still runs it, and that reservation then counts in its window
(request and estimate) while its slot frees with its lease.

Testing hook: `time_offset` (seconds, read on every call) is added to Redis TIME so
the contract suite can move windows without sleeping, exactly as it moves
`FakeClock` for the in-process backend. Production leaves it None, and it must not
be exposed as a setting: it is the one way to give a replica its own clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from importlib.resources import files
from typing import Any, ClassVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tokenward.limits.backend import (
    DEFAULT_LEASE,
    Outcome,
    build_decision,
    check_actual,
    check_lease,
    new_reservation_id,
)
from tokenward.limits.model import (
    US,
    Decision,
    LimiterUnavailable,
    LimitSpec,
    LimitState,
    Reservation,
    resolve_amounts,
)

#: default deadline of one limiter call, connect included
DEFAULT_TIMEOUT = 0.05
#: calls in flight per limiter (per replica); one call holds a connection ~0.1 ms
DEFAULT_MAX_IN_FLIGHT = 32


def _lua(name: str) -> str:
    return files("tokenward.limits").joinpath("lua", name).read_text(encoding="utf-8")


def _settle_kind(spec: LimitSpec) -> str:
    """What settle.lua does with a held limit: see its header."""
    if spec.window is None:
        return "c"
    if spec.session:
        return "u" if spec.metric == "tokens" else "s"
    return spec.metric[0]


class RedisLimiter:
    """`LimiterBackend` on a shared Redis.

    >>> limiter = RedisLimiter.from_url("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> decision = await limiter.acquire("req-1", [rpm, tpm], {"tokens": 900})  # doctest: +SKIP
    """

    ACQUIRE: ClassVar[str] = _lua("acquire.lua")
    SETTLE: ClassVar[str] = _lua("settle.lua")
    RENEW: ClassVar[str] = _lua("renew.lua")

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "tw:lim",
        lease_seconds: float = DEFAULT_LEASE,
        timeout: float = DEFAULT_TIMEOUT,
        time_offset: Callable[[], float] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        owns_client: bool = False,
    ) -> None:
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"invalid key prefix {prefix!r}")
        if not 0 < timeout <= 10:
            raise ValueError(f"timeout must be between 0 and 10 seconds, got {timeout!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        self._client = client
        self._prefix = prefix
        self._lease_us = check_lease(lease_seconds)
        self._timeout = timeout
        self._time_offset = time_offset
        self._owns_client = owns_client
        # a FIFO gate, not a blocking pool: a burst queues fairly for a few
        # connections instead of opening a socket per request (slower than the
        # deadline under load), and no caller can starve behind later arrivals
        self._gate = asyncio.Semaphore(max_in_flight)
        # registered once; each call is EVALSHA, reloading the script on NOSCRIPT
        self._acquire = client.register_script(self.ACQUIRE)
        self._settle = client.register_script(self.SETTLE)
        self._renew = client.register_script(self.RENEW)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> RedisLimiter:
        """A limiter with its own client: short socket timeouts and one immediate retry.

        The retry lets a pooled connection that died with a restarted Redis
        reconnect at once instead of failing one request; the deadline around every
        call still bounds the total, so a hung Redis costs one `timeout`, not two.
        """
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        return cls(client, timeout=timeout, owns_client=True, **options)

    async def warm_up(self) -> None:
        """Connect and load the scripts, so the first request pays neither (start-up)."""
        try:
            for source in (self.ACQUIRE, self.SETTLE, self.RENEW):
                await self._client.script_load(source)
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(f"limiter store unavailable ({exc})") from exc

    def _keys(self, spec: LimitSpec) -> list[str]:
        base = f"{self._prefix}:{spec.key}"
        return [f"{base}:e" if spec.session else f"{base}:z", f"{base}:a", f"{base}:s"]

    def _lease_key(self, reservation_id: str) -> str:
        return f"{self._prefix}:res:{reservation_id}"

    def _offset_us(self) -> int:
        return 0 if self._time_offset is None else int(self._time_offset() * US)

    async def _call(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        """Run one script under the deadline; every store failure is `LimiterUnavailable`."""
        try:
            async with asyncio.timeout(self._timeout), self._gate:
                return await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimiterUnavailable(
                f"limiter store unavailable ({type(exc).__name__}: {exc})"
            ) from exc

    async def _run_acquire(
        self,
        rid: str,
        limits: Sequence[LimitSpec],
        amounts: Sequence[int],
        *,
        dry: bool,
    ) -> tuple[bool, int, list[Outcome]]:
        keys = [self._lease_key(rid)]
        args: list[str | int] = [self._offset_us(), self._lease_us, rid, int(dry), len(limits)]
        for spec, amount in zip(limits, amounts, strict=True):
            keys += self._keys(spec)
            session = spec.metric[0] if spec.session else "-"
            args += [spec.limit, (spec.window or 0) * US, amount, session]
        reply = await self._call(self._acquire, keys, args)
        values = [int(v) for v in reply]
        outcomes = [Outcome(*values[i : i + 3]) for i in range(3, len(values), 3)]
        return values[0] == 1, values[2], outcomes

    async def acquire(
        self,
        request_id: str,
        limits: Sequence[LimitSpec],
        amounts: Mapping[str, int] | None = None,
    ) -> Decision:
        """Check and reserve every limit in one atomic script call."""
        per_limit = resolve_amounts(limits, amounts)
        rid = new_reservation_id(request_id)
        admitted, expires, outcomes = await self._run_acquire(rid, limits, per_limit, dry=False)
        return build_decision(
            limits,
            per_limit,
            outcomes,
            admitted=admitted,
            reservation_id=rid,
            lease_expires_us=expires,
        )

    async def _run_settle(self, reservation: Reservation, mode: str, actual: int) -> bool:
        if reservation.unenforced:
            return False
        keys = [self._lease_key(reservation.id)]
        kinds: list[str | int] = []
        for held in reservation.held:
            keys += self._keys(held.spec)
            kinds.append(_settle_kind(held.spec))
        args: list[str | int] = [self._offset_us(), reservation.id, mode, actual, len(kinds)]
        return int(await self._call(self._settle, keys, args + kinds)) == 1

    async def commit(self, reservation: Reservation, actual_tokens: int) -> bool:
        """Replace the token estimate by the actual usage; free the slots."""
        check_actual(actual_tokens)
        return await self._run_settle(reservation, "commit", actual_tokens)

    async def release(self, reservation: Reservation) -> bool:
        """Return the reserved tokens and slots; the request itself stays counted."""
        return await self._run_settle(reservation, "release", 0)

    async def cancel(self, reservation: Reservation) -> bool:
        """Undo the admission: requests, tokens and slots all return."""
        return await self._run_settle(reservation, "cancel", 0)

    async def renew(self, reservation: Reservation) -> Reservation | None:
        """Push the lease (and the slots) out to now + lease."""
        if reservation.unenforced:
            return None
        keys = [self._lease_key(reservation.id)]
        keys += [self._keys(h.spec)[0] for h in reservation.held if h.spec.window is None]
        args: list[str | int] = [self._offset_us(), reservation.id, self._lease_us]
        expires = int(await self._call(self._renew, keys, args))
        if expires < 0:
            return None
        return replace(reservation, lease_expires_at=expires / US)

    async def peek(self, limits: Sequence[LimitSpec]) -> tuple[LimitState, ...]:
        """Usage of each limit now: the acquire script in dry-run mode."""
        _, _, outcomes = await self._run_acquire("peek", limits, [0] * len(limits), dry=True)
        return tuple(
            LimitState(spec, o.used, max(0, o.reset_us) / US)
            for spec, o in zip(limits, outcomes, strict=True)
        )

    async def aclose(self) -> None:
        """Close the client if this limiter built it."""
        if self._owns_client:
            await self._client.aclose()


__all__ = ["DEFAULT_TIMEOUT", "RedisLimiter"]
