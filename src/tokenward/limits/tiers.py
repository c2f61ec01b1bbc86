"""Priority tiers of the capacity pools: their order, the default, how long each waits.

Configured in `[limits]` (`tiers`, highest first; `default_tier`; `pool_max_wait_s`
and `[limits.tier_max_wait_s]`; `pool_max_queue`) and validated when the settings
are built, so an unknown tier is a start-up error, never a silent demotion.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tokenward.errors import ConfigError

log = logging.getLogger("tokenward.limits.tiers")

TIER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
#: the one tier when none are configured
DEFAULT_TIER = "default"


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """Ordered tiers (highest first), the default one, and how long each may wait."""

    tiers: tuple[str, ...] = (DEFAULT_TIER,)
    default_tier: str = DEFAULT_TIER
    #: seconds a waiter of each tier (same order as `tiers`) may queue; 0 = never
    max_wait_s: tuple[float, ...] = (5.0,)
    max_queue: int = 256

    def __post_init__(self) -> None:
        check_tiers(self.tiers, self.default_tier)
        if len(self.max_wait_s) != len(self.tiers):
            raise ConfigError("one max wait per tier is needed")
        for tier, wait in zip(self.tiers, self.max_wait_s, strict=True):
            if not 0 <= wait <= 3600 or math.isnan(wait):
                raise ConfigError(f"max wait of tier {tier!r} must be in [0, 3600] s, got {wait}")
        if not 1 <= self.max_queue <= 1_000_000:
            raise ConfigError(f"pool max queue must be in [1, 1000000], got {self.max_queue}")

    @classmethod
    def build(
        cls,
        tiers: Iterable[str] = (),
        default_tier: str = "",
        max_wait_s: float = 5.0,
        tier_max_wait_s: Mapping[str, float] | None = None,
        max_queue: int = 256,
    ) -> TierPolicy:
        """From config values: no tiers means one `default` tier; an empty default
        tier means the lowest one; per-tier waits override the global one."""
        names = tuple(tiers) or (DEFAULT_TIER,)
        default = default_tier or names[-1]
        overrides = dict(tier_max_wait_s or {})
        for tier, wait in overrides.items():
            if isinstance(wait, bool) or not isinstance(wait, int | float):
                raise ConfigError(f"max wait of tier {tier!r} must be a number, got {wait!r}")
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ConfigError(f"max wait given for unknown tier(s) {', '.join(unknown)}")
        waits = tuple(float(overrides.get(t, max_wait_s)) for t in names)
        return cls(names, default, waits, max_queue)

    def rank(self, tier: str) -> int:
        """0 for the highest tier; '' (and a tier no longer configured) is the default."""
        if tier:
            try:
                return self.tiers.index(tier)
            except ValueError:
                log.warning("tier %r is not configured; serving it as %r", tier, self.default_tier)
        return self.tiers.index(self.default_tier)


def check_tiers(tiers: Iterable[str], default_tier: str) -> None:
    """Tier names are short lowercase words, unique; the default is one of them."""
    names = list(tiers)
    if not names:
        raise ConfigError("at least one tier is needed")
    for name in names:
        if not isinstance(name, str) or not TIER_NAME.fullmatch(name):
            raise ConfigError(
                f"invalid tier name {name!r}: use 1-32 lowercase letters, digits, '_' or '-'"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"tier names must be unique, got {', '.join(names)}")
    if default_tier not in names:
        raise ConfigError(
            f"default tier {default_tier!r} is not one of the tiers ({', '.join(names)})"
        )


__all__ = ["DEFAULT_TIER", "TIER_NAME", "TierPolicy", "check_tiers"]
