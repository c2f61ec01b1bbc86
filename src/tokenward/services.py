"""The typed bundle of everything a request needs, built once in the lifespan.

Start-up builds resources in dependency order; `aclose()` releases them in reverse.
Nothing here is module-level state: tests build as many bundles as they like.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from tokenward.auth import KeyAuthenticator
from tokenward.clock import Clock, SystemClock
from tokenward.config.schema import Settings
from tokenward.ledger import EventWriter
from tokenward.observability import Metrics
from tokenward.providers.base import Provider
from tokenward.providers.registry import build_providers
from tokenward.proxy import Pipeline, Relay, RequestIds
from tokenward.proxy.settle import Settler
from tokenward.routing import ExponentialJitterBackoff, Router
from tokenward.storage import Store, migrate


@dataclass(slots=True)
class Services:
    """Long-lived collaborators of the gateway, passed explicitly (no globals)."""

    settings: Settings
    clock: Clock
    store: Store
    writer: EventWriter
    metrics: Metrics
    authenticator: KeyAuthenticator
    session: aiohttp.ClientSession
    providers: dict[str, Provider]
    pipeline: Pipeline
    request_ids: RequestIds

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None) -> Services:
        clock = clock or SystemClock()
        # 1. the ledger store, migrated (idempotent; `serve` already did it once)
        store = await asyncio.to_thread(Store.connect, settings.database)
        await asyncio.to_thread(migrate, store)
        # 2. the group-commit writer for usage events
        writer = EventWriter(store, settings.database.batch_max)
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
        # 4. the request pipeline over them
        authenticator = KeyAuthenticator(
            store, clock, ttl_s=settings.server.key_cache_ttl_s, admin_key=settings.admin_key
        )
        router = Router(settings, providers, clock)
        backoff = ExponentialJitterBackoff(
            settings.routing.backoff_base_s, settings.routing.backoff_max_s
        )
        relay = Relay(
            Settler(writer, metrics, clock), metrics, clock, settings.server, router, backoff
        )
        pipeline = Pipeline(
            authenticator=authenticator, router=router, relay=relay, server=settings.server
        )
        return cls(
            settings,
            clock,
            store,
            writer,
            metrics,
            authenticator,
            session,
            providers,
            pipeline,
            RequestIds(),
        )

    async def aclose(self) -> None:
        # reverse order: stop taking upstream traffic, flush the ledger, close the store
        for provider in self.providers.values():
            await provider.aclose()
        await self.session.close()
        await self.writer.aclose()
        await asyncio.to_thread(self.store.close)


__all__ = ["Services"]
