"""Provider kind -> adapter; builds one adapter per configured provider."""

from __future__ import annotations

import aiohttp

from tokenward.clock import Clock
from tokenward.config.schema import Settings
from tokenward.providers.anthropic import AnthropicProvider
from tokenward.providers.base import Provider
from tokenward.providers.openai import OpenAIProvider
from tokenward.providers.simulator import SimulatorProvider


def build_providers(
    settings: Settings, session: aiohttp.ClientSession, clock: Clock
) -> dict[str, Provider]:
    """One adapter per `[providers.*]` entry, all sharing one HTTP session."""
    providers: dict[str, Provider] = {}
    for spec in settings.providers:
        if spec.kind == "openai":
            providers[spec.name] = OpenAIProvider(spec, session)
        elif spec.kind == "anthropic":
            providers[spec.name] = AnthropicProvider(spec, session)
        else:
            providers[spec.name] = SimulatorProvider(spec.name, settings.simulator, clock)
    return providers


__all__ = ["build_providers"]
