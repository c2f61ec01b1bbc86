"""Public model name (or alias) -> the deployments that serve it, in attempt order.

A model may have several deployments (one per `[[models]]` entry with its name). For
each request the router draws an order by weight among the healthy ones (weighted
random without replacement), puts deployments in cool-down last, and repeats the
order up to `routing.max_attempts`. A deployment that fails
`cooldown_after_failures` times in a row is cooled down for `cooldown_s`; one success
clears its record.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from tokenward.clock import Clock
from tokenward.config.schema import RoutingSettings, Settings
from tokenward.errors import ModelNotFound
from tokenward.providers.base import Provider


@dataclass(frozen=True, slots=True)
class Deployment:
    """One upstream model behind one provider."""

    name: str  # "<provider>/<upstream model>", recorded on usage events
    model: str
    upstream_model: str
    provider: Provider
    timeout_s: float
    weight: float = 1.0


@dataclass(slots=True)
class _Health:
    failures: int = 0
    cool_until: float = 0.0


class Router:
    """Resolves models and aliases; orders deployments; tracks their health."""

    def __init__(
        self,
        settings: Settings,
        providers: Mapping[str, Provider],
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._routing: RoutingSettings = settings.routing
        self._clock = clock
        self._rng = rng or random.Random()
        self._deployments: dict[str, list[Deployment]] = {}
        self._aliases: dict[str, str] = {}
        self._health: dict[str, _Health] = {}
        for model in settings.models:
            provider = settings.provider(model.provider)
            deployment = Deployment(
                name=f"{model.provider}/{model.upstream_model}",
                model=model.name,
                upstream_model=model.upstream_model,
                provider=providers[model.provider],
                timeout_s=model.timeout_s or provider.timeout_s,
                weight=model.weight,
            )
            self._deployments.setdefault(model.name, []).append(deployment)
            self._health.setdefault(deployment.name, _Health())
            for alias in model.aliases:
                self._aliases[alias] = model.name

    def canonical(self, model: str) -> str:
        """The configured model name of `model` (itself, or what its alias points at)."""
        name = self._aliases.get(model, model)
        if name not in self._deployments:
            raise ModelNotFound(
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
            )
        return name

    def plan(self, model: str) -> list[Deployment]:
        """The deployments to try for one request, in order (never empty)."""
        candidates = self._deployments[self.canonical(model)]
        now = self._clock.monotonic()
        healthy = [d for d in candidates if self._health[d.name].cool_until <= now]
        cooling = [d for d in candidates if d not in healthy]
        order = self._weighted_order(healthy) + sorted(
            cooling, key=lambda d: self._health[d.name].cool_until
        )
        attempts = self._routing.max_attempts
        return [order[i % len(order)] for i in range(attempts)]

    def succeeded(self, deployment: Deployment) -> None:
        health = self._health[deployment.name]
        health.failures = 0
        health.cool_until = 0.0

    def failed(self, deployment: Deployment) -> None:
        health = self._health[deployment.name]
        health.failures += 1
        if health.failures >= self._routing.cooldown_after_failures:
            health.cool_until = self._clock.monotonic() + self._routing.cooldown_s

    def cooling(self, deployment: Deployment) -> bool:
        return self._health[deployment.name].cool_until > self._clock.monotonic()

    def models(self) -> list[tuple[str, Deployment]]:
        """(public name, its first deployment) for every model and alias."""
        listed = [(name, deployments[0]) for name, deployments in self._deployments.items()]
        listed += [(alias, self._deployments[name][0]) for alias, name in self._aliases.items()]
        return listed

    def _weighted_order(self, deployments: list[Deployment]) -> list[Deployment]:
        if len(deployments) <= 1:
            return list(deployments)
        # Efraimidis-Spirakis: sort by u^(1/w), a weighted draw without replacement
        keyed = [(self._rng.random() ** (1.0 / d.weight), d) for d in deployments]
        return [d for _, d in sorted(keyed, key=lambda pair: pair[0], reverse=True)]


__all__ = ["Deployment", "Router"]
