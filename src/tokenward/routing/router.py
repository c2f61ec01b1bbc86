"""Public model name -> the deployment that serves it.

One deployment per model for now; weights, retries and fallback arrive with the
routing issue and plug in here without touching the proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tokenward.config.schema import Settings
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


class Router:
    """Resolves public model names; raises NotFound for anything not configured."""

    def __init__(self, settings: Settings, providers: Mapping[str, Provider]) -> None:
        self._deployments: dict[str, Deployment] = {}
        for model in settings.models:
            provider_settings = settings.provider(model.provider)
            self._deployments[model.name] = Deployment(
                name=f"{model.provider}/{model.upstream_model}",
                model=model.name,
                upstream_model=model.upstream_model,
                provider=providers[model.provider],
                timeout_s=provider_settings.timeout_s,
            )

    def resolve(self, model: str) -> Deployment:
        try:
            return self._deployments[model]
        except KeyError:
            raise ModelNotFound(
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
            ) from None

    def models(self) -> list[Deployment]:
        return list(self._deployments.values())


__all__ = ["Deployment", "Router"]
