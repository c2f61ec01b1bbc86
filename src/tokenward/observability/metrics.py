"""Prometheus collectors, one registry per app (no process-global registry).

Label children are cached, since `labels()` costs a dict build and a lock per call
and sits on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase

from tokenward.ledger.model import UsageEvent

if TYPE_CHECKING:
    from tokenward.limits.pools import PoolStats

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _LimiterHealth:
    """Store errors and availability, read from the limiter when /metrics is scraped
    (the failure policy keeps the counts; copying them on every call would cost)."""

    def __init__(self) -> None:
        self.store_errors: Callable[[], int] = lambda: 0
        self.available: Callable[[], bool] = lambda: True

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "tokenward_limiter_store_errors",
            "Limiter calls that failed because its store (Redis) did not answer.",
            value=self.store_errors(),
        )
        yield GaugeMetricFamily(
            "tokenward_limiter_available",
            "1 while the limiter's store answers, 0 after a failure until it is probed again.",
            value=1.0 if self.available() else 0.0,
        )


class _PoolGauges:
    """Capacity pools' utilisation, slots in use and queue depth, read at scrape time."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[PoolStats]] = list

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(
            "tokenward_pool_in_use", "Upstream attempts holding a pool slot.", labels=["pool"]
        )
        utilisation = GaugeMetricFamily(
            "tokenward_pool_utilisation",
            "Busier of a pool's caps, 0..1 (slots in use / max_concurrency, tokens/s spent).",
            labels=["pool"],
        )
        depth = GaugeMetricFamily(
            "tokenward_pool_queue_depth",
            "Requests waiting for a pool slot, by tier.",
            labels=["pool", "tier"],
        )
        for stats in self.source():
            in_use.add_metric([stats.name], stats.in_use)
            utilisation.add_metric([stats.name], stats.utilisation)
            for tier, queued in stats.queued.items():
                depth.add_metric([stats.name, tier], queued)
        yield in_use
        yield utilisation
        yield depth


class Metrics:
    """The gateway's collectors: requests, tokens by category, latency, upstream errors,
    limiter decisions and store health, capacity pools."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tokenward_requests",
            "Requests answered, by route, model and HTTP status.",
            ("route", "model", "status"),
            registry=self.registry,
        )
        self.tokens = Counter(
            "tokenward_tokens",
            "Tokens booked on usage events, by model and category.",
            ("model", "category"),
            registry=self.registry,
        )
        self.estimated_events = Counter(
            "tokenward_estimated_events",
            "Usage events whose counts are estimates (the provider reported none).",
            ("model",),
            registry=self.registry,
        )
        self.latency = Histogram(
            "tokenward_request_duration_seconds",
            "Time from request start to the last byte, by route.",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "tokenward_upstream_errors",
            "Upstream failures by deployment and error code.",
            ("deployment", "code"),
            registry=self.registry,
        )
        self.ledger_conflicts = Counter(
            "tokenward_ledger_conflicts",
            "Replays of a request id with different usage (kept out of the ledger).",
            registry=self.registry,
        )
        self.ledger_wait = Histogram(
            "tokenward_ledger_commit_wait_seconds",
            "Time a response waits for the group commit holding its usage event.",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1),
            registry=self.registry,
        )
        self.limiter_decisions = Counter(
            "tokenward_limiter_decisions",
            "Admission decisions of limited requests: admitted, denied, fail_open, fail_closed.",
            ("result",),
            registry=self.registry,
        )
        self.limiter_fail_open = Counter(
            "tokenward_limiter_fail_open",
            "Requests admitted without enforcement while the limiter's store was down.",
            registry=self.registry,
        )
        self._limiter_health = _LimiterHealth()
        self.registry.register(self._limiter_health)
        self.guard_findings = Counter(
            "tokenward_guard_findings",
            "Guard findings by type, the action the policy took, and direction.",
            ("type", "action", "direction"),
            registry=self.registry,
        )
        self.pool_waits = Histogram(
            "tokenward_pool_wait_seconds",
            "Time a request waited for a capacity pool slot (0 when served at once), by tier.",
            ("pool", "tier"),
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.pool_sheds = Counter(
            "tokenward_pool_sheds",
            "Requests a saturated pool answered 429, by tier and reason "
            "(queue_full, evicted, timeout, no_wait).",
            ("pool", "tier", "reason"),
            registry=self.registry,
        )
        self._pool_gauges = _PoolGauges()
        self.registry.register(self._pool_gauges)
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def _child(self, metric: MetricWrapperBase, *labels: str) -> MetricWrapperBase:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, route: str, model: str, status: int, seconds: float) -> None:
        self._child(self.requests, route, model, str(status)).inc()  # type: ignore[attr-defined]
        self._child(self.latency, route).observe(seconds)  # type: ignore[attr-defined]

    def observe_event(self, event: UsageEvent) -> None:
        usage = event.usage
        for category, value in (
            ("input", usage.input_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("output", usage.output_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if value:
                self._child(self.tokens, event.model, category).inc(value)  # type: ignore[attr-defined]
        if usage.estimated:
            self._child(self.estimated_events, event.model).inc()  # type: ignore[attr-defined]

    def observe_guard_finding(self, type_: str, action: str, direction: str) -> None:
        self._child(self.guard_findings, type_, action, direction).inc()  # type: ignore[attr-defined]

    def observe_upstream_error(self, deployment: str, code: str) -> None:
        self._child(self.upstream_errors, deployment, code).inc()  # type: ignore[attr-defined]

    def observe_limiter_decision(self, result: str) -> None:
        self._child(self.limiter_decisions, result).inc()  # type: ignore[attr-defined]
        if result == "fail_open":
            self.limiter_fail_open.inc()

    def watch_limiter(self, store_errors: Callable[[], int], available: Callable[[], bool]) -> None:
        """Export the limiter's store health, read at scrape time."""
        self._limiter_health.store_errors = store_errors
        self._limiter_health.available = available

    def observe_pool_wait(self, pool: str, tier: str, seconds: float) -> None:
        self._child(self.pool_waits, pool, tier).observe(seconds)  # type: ignore[attr-defined]

    def observe_pool_shed(self, pool: str, tier: str, reason: str) -> None:
        self._child(self.pool_sheds, pool, tier, reason).inc()  # type: ignore[attr-defined]

    def watch_pools(self, source: Callable[[], Iterable[PoolStats]]) -> None:
        """Export the capacity pools' gauges, read at scrape time."""
        self._pool_gauges.source = source

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["Metrics"]
