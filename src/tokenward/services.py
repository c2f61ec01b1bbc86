"""The typed bundle of everything a request needs, built once in the lifespan.

Start-up builds resources in dependency order; `aclose()` releases them in reverse.
Nothing here is module-level state: tests build as many bundles as they like.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp

from tokenward.audit import AuditLog, GuardSecretCheck
from tokenward.auth import KeyAuthenticator
from tokenward.clock import Clock, SystemClock
from tokenward.config.schema import Settings
from tokenward.errors import LimiterUnavailable
from tokenward.guard import Scanner
from tokenward.jobs import Periodic, Upkeep
from tokenward.ledger import EventWriter
from tokenward.ledger.credits import post_usage_batch, sweep_expired
from tokenward.limits import (
    Admission,
    FailClosed,
    FailOpen,
    FailurePolicy,
    LimiterBackend,
    MemoryLimiter,
    RedisLimiter,
    ResilientLimiter,
    RuleCache,
)
from tokenward.limits.pools import build_pools
from tokenward.observability import Metrics
from tokenward.plans.cache import EntitlementCache
from tokenward.plans.quota import QuotaEngine
from tokenward.plans.subscriptions import promote_waitlist, renew_due
from tokenward.pricing.catalog import CatalogCache
from tokenward.pricing.service import ensure_default_book
from tokenward.providers.base import Provider
from tokenward.providers.registry import build_providers
from tokenward.proxy import Pipeline, Relay, RequestIds
from tokenward.proxy.charging import ChargeStage
from tokenward.proxy.guarding import GuardReporter, GuardStage
from tokenward.proxy.settle import Settler
from tokenward.routing import ExponentialJitterBackoff, Router
from tokenward.storage import Store, migrate

log = logging.getLogger("tokenward.services")


@dataclass(slots=True)
class Services:
    """Long-lived collaborators of the gateway, passed explicitly (no globals)."""

    settings: Settings
    clock: Clock
    store: Store
    writer: EventWriter
    metrics: Metrics
    limiter: LimiterBackend
    authenticator: KeyAuthenticator
    session: aiohttp.ClientSession
    providers: dict[str, Provider]
    pipeline: Pipeline
    request_ids: RequestIds
    guard_reporter: GuardReporter
    scanner: Scanner
    upkeep: Upkeep

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None) -> Services:
        clock = clock or SystemClock()
        # 1. the ledger store, migrated (idempotent; `serve` already did it once)
        store = await asyncio.to_thread(Store.connect, settings.database)
        await asyncio.to_thread(migrate, store)
        # 2. the group-commit writer for usage events
        writer = EventWriter(store, settings.database.batch_max, post_usage_batch)
        writer.start()
        metrics = Metrics()
        # 3. one pooled HTTP client shared by every upstream
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max((p.max_connections for p in settings.providers), default=512),
                ttl_dns_cache=300,
            ),
            auto_decompress=True,
        )
        providers = build_providers(settings, session, clock)
        # 4. the limiter: in-process, or the shared Redis under the configured policy
        limiter = await _build_limiter(settings, clock, metrics)
        admission = Admission(
            limiter,
            RuleCache(store, settings.limits, clock, settings.limits.rules_cache_ttl_s),
            settings.limits,
            metrics,
        )
        # 5. the request pipeline over them
        authenticator = KeyAuthenticator(
            store, clock, ttl_s=settings.server.key_cache_ttl_s, admin_key=settings.admin_key
        )
        router = Router(settings, providers, clock)
        backoff = ExponentialJitterBackoff(
            settings.routing.backoff_base_s, settings.routing.backoff_max_s
        )
        # 5a. the guard: one scanner compiled once, policies per account/key/model
        scanner = Scanner()
        audit = AuditLog(store, clock, secret_check=GuardSecretCheck(scanner))
        guard_reporter = GuardReporter(metrics, audit)
        guard = GuardStage(settings.guard, scanner, guard_reporter)
        # 5b. the money path: prices, plans and their quotas, credit holds
        await asyncio.to_thread(ensure_default_book, store, clock)
        billing = settings.billing
        catalog = CatalogCache(store, clock, ttl_s=billing.cache_ttl_s)
        await catalog.get()
        charging = ChargeStage(
            store=store,
            clock=clock,
            settings=billing,
            catalog=catalog,
            entitlements=EntitlementCache(store, clock, ttl_s=billing.cache_ttl_s),
            quotas=QuotaEngine(limiter),
        )
        upkeep = Upkeep(
            store,
            clock,
            [
                Periodic("sweep-credit-holds", sweep_expired, billing.sweep_interval_s),
                Periodic("renew-subscriptions", renew_due, 60.0),
                Periodic("promote-waitlists", promote_waitlist, 60.0),
            ],
        )
        upkeep.start()
        settler = Settler(writer, metrics, clock, admission, catalog=catalog, charging=charging)
        pools = build_pools(settings, clock, metrics)
        relay = Relay(settler, metrics, clock, settings.server, router, backoff, pools)
        pipeline = Pipeline(
            authenticator=authenticator,
            router=router,
            relay=relay,
            admission=admission,
            guard=guard,
            charging=charging,
            server=settings.server,
            default_output_tokens=settings.limits.default_output_tokens,
        )
        return cls(
            settings,
            clock,
            store,
            writer,
            metrics,
            limiter,
            authenticator,
            session,
            providers,
            pipeline,
            RequestIds(),
            guard_reporter,
            scanner,
            upkeep,
        )

    async def aclose(self) -> None:
        # reverse order: stop taking upstream traffic, let go of the limiter (leases
        # still held expire by themselves), flush the ledger, close the store
        for provider in self.providers.values():
            await provider.aclose()
        await self.session.close()
        await self.upkeep.aclose()
        await self.limiter.aclose()
        await self.guard_reporter.aclose()
        await self.writer.aclose()
        await asyncio.to_thread(self.store.close)


async def _build_limiter(settings: Settings, clock: Clock, metrics: Metrics) -> LimiterBackend:
    """`MemoryLimiter` for one process; with `redis_url`, every replica shares one Redis
    and a store outage is answered by the `limits.on_store_error` policy."""
    limits = settings.limits
    if settings.redis_url is None:
        if settings.server.workers > 1:
            log.warning(
                "limits are kept per worker process: set redis_url to share them "
                "(%d workers may admit up to %d times each limit)",
                settings.server.workers,
                settings.server.workers,
            )
        return MemoryLimiter(clock, lease_seconds=limits.lease_s)
    backend = RedisLimiter.from_url(
        settings.redis_url, timeout=limits.redis_timeout_ms / 1000, lease_seconds=limits.lease_s
    )
    try:
        await backend.warm_up()
    except LimiterUnavailable as exc:
        # not fatal: the policy answers until Redis comes up, then limiting starts
        log.warning("limiter store not reachable at start-up: %s", exc)
    policy: FailurePolicy = FailOpen() if limits.on_store_error == "fail_open" else FailClosed()
    resilient = ResilientLimiter(backend, policy, clock=clock)
    metrics.watch_limiter(lambda: resilient.store_errors, lambda: resilient.available)
    return resilient


__all__ = ["Services"]
