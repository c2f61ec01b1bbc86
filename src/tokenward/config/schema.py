"""Frozen, typed settings, validated when built.

The loader (`config.loader`) reads `tokenward.toml` and `TOKENWARD_*` variables once;
everything after start-up receives these objects and never reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tokenward.errors import ConfigError

if TYPE_CHECKING:
    from tokenward.limits.tiers import TierPolicy

DisconnectPolicy = Literal["drain", "abort"]
StoreErrorPolicy = Literal["fail_open", "fail_closed"]
ProviderKind = Literal["openai", "anthropic", "simulator"]

#: Models the built-in simulator serves when no model is configured.
SIMULATOR_MODELS: tuple[str, ...] = ("sim-small", "sim-large", "sim-reasoner", "sim-embed")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """HTTP front: where to listen, request limits, stream disconnect policy."""

    host: str = "127.0.0.1"
    port: int = 4000
    workers: int = 1
    max_body_bytes: int = 4 * 1024 * 1024
    #: largest `max_tokens` / `max_completion_tokens` accepted from a client
    max_output_tokens: int = 1_000_000
    #: largest `n` accepted from a client
    max_choices: int = 16
    #: "drain": keep reading the upstream after a client disconnect to book exact usage;
    #: "abort": close the upstream at once and book an estimate
    on_client_disconnect: DisconnectPolicy = "drain"
    #: upper bound on one drain, after which the event is booked as an estimate
    drain_timeout_s: float = 120.0
    #: how long a key lookup is trusted before the store is asked again
    key_cache_ttl_s: float = 0.5

    def __post_init__(self) -> None:
        _require(1 <= self.port <= 65535, f"server.port must be 1..65535, got {self.port}")
        _require(self.workers >= 1, "server.workers must be >= 1")
        _require(self.max_body_bytes >= 1024, "server.max_body_bytes must be >= 1024")
        _require(self.max_output_tokens >= 1, "server.max_output_tokens must be >= 1")
        _require(self.max_choices >= 1, "server.max_choices must be >= 1")
        _require(
            self.on_client_disconnect in ("drain", "abort"),
            "server.on_client_disconnect must be 'drain' or 'abort', "
            f"got {self.on_client_disconnect!r}",
        )
        _require(self.drain_timeout_s > 0, "server.drain_timeout_s must be > 0")
        _require(0 < self.key_cache_ttl_s <= 1.0, "server.key_cache_ttl_s must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Ledger store. `url` is a SQLAlchemy URL: sqlite:///path or postgresql://..."""

    url: str
    #: SQLite `synchronous` pragma: NORMAL survives a process kill (WAL), FULL a power cut
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    #: most events written in one group commit
    batch_max: int = 512

    def __post_init__(self) -> None:
        _require(
            self.url.startswith(("sqlite", "postgresql")),
            f"database url must be sqlite:///... or postgresql://..., got {self.url!r}",
        )
        _require(
            self.sqlite_synchronous in ("NORMAL", "FULL"),
            "database.sqlite_synchronous must be NORMAL or FULL",
        )
        _require(self.batch_max >= 1, "database.batch_max must be >= 1")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """The offline provider: deterministic replies, latency and fault injection."""

    seed: int = 0
    #: time before the first byte of a reply
    latency_ms: float = 0.0
    #: stream chunks per reply (content chunks, before the finish and usage chunks);
    #: 0 means one chunk per generated word
    chunk_count: int = 0
    chunk_delay_ms: float = 0.0
    #: output length bounds in tokens (the seed picks within them, capped by max_tokens)
    min_output_tokens: int = 8
    max_output_tokens: int = 64
    #: fault injection, as probabilities per request (decided by the request seed)
    error_rate: float = 0.0
    #: share of requests answered 429 with `Retry-After: 1`
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    broken_stream_rate: float = 0.0
    #: how long a "timeout" fault hangs before closing
    hang_s: float = 30.0
    #: JSONL journal of every served request (the test oracle); None to disable
    journal_path: str | None = None
    models: tuple[str, ...] = SIMULATOR_MODELS
    #: the vendor it imitates (a `providers.presets` name): "anthropic" also serves
    #: `/v1/messages`; an OpenAI-compatible vendor shapes the chat replies' `usage`
    dialect: str = "openai"

    def __post_init__(self) -> None:
        # imported here, as the loader does: config must not need the providers package
        from tokenward.providers.presets import PRESETS

        _require(
            self.dialect in PRESETS,
            f"simulator.dialect must be one of {', '.join(sorted(PRESETS))}, got {self.dialect!r}",
        )
        for name in ("error_rate", "rate_limit_rate", "timeout_rate", "broken_stream_rate"):
            value = getattr(self, name)
            _require(0.0 <= value <= 1.0, f"simulator.{name} must be in [0, 1], got {value}")
        _require(self.latency_ms >= 0 and self.chunk_delay_ms >= 0, "delays must be >= 0")
        _require(self.chunk_count >= 0, "simulator.chunk_count must be >= 0")
        _require(
            1 <= self.min_output_tokens <= self.max_output_tokens,
            "simulator output token bounds must satisfy 1 <= min <= max",
        )
        _require(len(self.models) > 0, "simulator.models must not be empty")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One upstream: its kind, where it lives and where its key comes from."""

    name: str
    kind: ProviderKind
    base_url: str = ""
    #: a preset from `providers.presets` (deepseek, qwen, ...): default base URL and
    #: the vendor's usage-field quirks
    preset: str | None = None
    #: name of the environment variable holding the upstream key (never the key itself)
    api_key_env: str | None = None
    #: or a file holding the key (e.g. a mounted secret)
    api_key_file: str | None = None
    #: the key, resolved from `api_key_env` / `api_key_file` by the loader
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_connections: int = 512
    #: Anthropic kind: the API version header, and `max_tokens` when a client sent none
    anthropic_version: str = "2023-06-01"
    default_max_tokens: int = 4096

    def __post_init__(self) -> None:
        _require(
            self.kind in ("openai", "anthropic", "simulator"),
            f"provider {self.name}: kind must be openai, anthropic or simulator",
        )
        if self.kind != "simulator":
            _require(
                self.base_url.startswith(("http://", "https://")),
                f"provider {self.name}: base_url must be an http(s) URL (or set a preset)",
            )
        _require(self.timeout_s > 0, f"provider {self.name}: timeout_s must be > 0")
        _require(self.connect_timeout_s > 0, f"provider {self.name}: connect_timeout_s > 0")
        _require(self.max_connections >= 1, f"provider {self.name}: max_connections >= 1")
        _require(self.default_max_tokens >= 1, f"provider {self.name}: default_max_tokens >= 1")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """A public model name served by a provider's upstream model: one deployment.

    Several entries with the same `name` are several deployments of that model,
    chosen by `weight` and tried in turn when one fails.
    """

    name: str
    provider: str
    upstream_model: str
    weight: float = 1.0
    #: overrides the provider's timeout for this deployment
    timeout_s: float | None = None
    #: other public names for this model
    aliases: tuple[str, ...] = ()
    #: capacity pool of this deployment (unset: none): upstream attempts in flight at
    #: once, and tokens per second; per gateway process (see limits/pools.py)
    max_concurrency: int | None = None
    tokens_per_second: int | None = None

    def __post_init__(self) -> None:
        _require(self.weight > 0, f"model {self.name}: weight must be > 0")
        _require(self.timeout_s is None or self.timeout_s > 0, f"model {self.name}: timeout_s > 0")
        for cap in ("max_concurrency", "tokens_per_second"):
            value = getattr(self, cap)
            _require(
                value is None or value >= 1,
                f"model {self.name}: {cap} must be >= 1 (leave it unset for no pool), got {value}",
            )


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Retries, backoff and cool-down across a model's deployments."""

    #: attempts per request across deployments, the first included
    max_attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_max_s: float = 1.0
    #: consecutive failures that put a deployment in cool-down, and for how long
    cooldown_after_failures: int = 3
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        _require(1 <= self.max_attempts <= 10, "routing.max_attempts must be 1..10")
        _require(
            0 <= self.backoff_base_s <= self.backoff_max_s,
            "routing: 0 <= backoff_base_s <= backoff_max_s",
        )
        _require(self.cooldown_after_failures >= 1, "routing.cooldown_after_failures >= 1")
        _require(self.cooldown_s >= 0, "routing.cooldown_s >= 0")


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """Admission: the limiter backend's behaviour and the limits every key gets.

    Rules per key, account, plan and model live in the database (`tokenward limits
    set`); the `default_key_*` limits apply to every key that has no rule of its own
    for that metric (unset: unlimited). The backend is in-process unless `redis_url`
    is set, and then `on_store_error` says what a Redis outage does to admissions.
    """

    #: "fail_open": admit unenforced while Redis is down; "fail_closed": answer 503
    on_store_error: StoreErrorPolicy = "fail_open"
    #: reservations and concurrency slots expire after this unless renewed
    lease_s: float = 60.0
    #: deadline of one limiter call to Redis, connect included
    redis_timeout_ms: float = 50.0
    #: output tokens reserved for a request that sends no `max_tokens`
    default_output_tokens: int = 1024
    #: how long the rules of a key are trusted before the store is asked again
    rules_cache_ttl_s: float = 0.5
    default_key_rpm: int | None = None
    default_key_tpm: int | None = None
    default_key_tpd: int | None = None
    default_key_concurrency: int | None = None
    #: priority tiers of the capacity pools, highest first (none: one tier for all)
    tiers: tuple[str, ...] = ()
    #: tier of a request whose key and plan name none ('': the lowest tier)
    default_tier: str = ""
    #: how long a request may queue for a saturated pool, and per tier (TOML table)
    pool_max_wait_s: float = 5.0
    tier_max_wait_s: Mapping[str, float] = field(default_factory=dict)
    #: waiters per pool; a full queue sheds the lowest tier first
    pool_max_queue: int = 256

    def __post_init__(self) -> None:
        _require(
            self.on_store_error in ("fail_open", "fail_closed"),
            "limits.on_store_error must be 'fail_open' or 'fail_closed', "
            f"got {self.on_store_error!r}",
        )
        _require(1 <= self.lease_s <= 86_400, "limits.lease_s must be in [1, 86400]")
        _require(
            0 < self.redis_timeout_ms <= 10_000, "limits.redis_timeout_ms must be in (0, 10000]"
        )
        _require(self.default_output_tokens >= 1, "limits.default_output_tokens must be >= 1")
        _require(0 < self.rules_cache_ttl_s <= 1.0, "limits.rules_cache_ttl_s must be in (0, 1]")
        for name in ("rpm", "tpm", "tpd", "concurrency"):
            value = getattr(self, f"default_key_{name}")
            _require(
                value is None or value >= 1,
                f"limits.default_key_{name} must be >= 1 (leave it unset for no limit)",
            )
        self.tier_policy()  # unknown tier, bad wait or queue size: a ConfigError now

    def tier_policy(self) -> TierPolicy:
        """The capacity pools' tiers and waits, validated."""
        from tokenward.limits.tiers import TierPolicy

        try:
            return TierPolicy.build(
                self.tiers,
                self.default_tier,
                self.pool_max_wait_s,
                self.tier_max_wait_s,
                self.pool_max_queue,
            )
        except ConfigError as exc:
            raise ConfigError(f"limits: {exc}") from None


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """The money path at request time: credit reservations of prepaid accounts.

    Amounts are decimal strings (a TOML float would not be exact), in the currency
    of the price book that prices the request.
    """

    #: how far a prepaid balance may go below zero through reservations (default: not at all)
    overdraft: str = "0"
    #: a credit hold expires (and is released by the sweeper) after this, if never settled
    reservation_lease_s: float = 600.0
    #: how often expired holds are swept
    sweep_interval_s: float = 5.0
    #: what a prepaid account's request for a model with no price holds: "" refuses it
    #: (402), an amount reserves that much (in `unpriced_currency`) and settles 0
    unpriced_reservation: str = ""
    unpriced_currency: str = "USD"
    #: how long plan entitlements and the price catalog are trusted per process
    cache_ttl_s: float = 1.0

    def __post_init__(self) -> None:
        from tokenward.errors import InvalidRequest
        from tokenward.money import check_currency, parse_amount

        try:
            parse_amount(self.overdraft, "billing.overdraft")
            if self.unpriced_reservation:
                parse_amount(self.unpriced_reservation, "billing.unpriced_reservation")
            check_currency(self.unpriced_currency, "billing.unpriced_currency")
        except InvalidRequest as exc:
            raise ConfigError(str(exc)) from None
        _require(
            10 <= self.reservation_lease_s <= 86_400,
            "billing.reservation_lease_s must be in [10, 86400]",
        )
        _require(0.1 <= self.sweep_interval_s <= 3600, "billing.sweep_interval_s in [0.1, 3600]")
        _require(0 < self.cache_ttl_s <= 60, "billing.cache_ttl_s must be in (0, 60]")


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """The runtime guard's policy layers, as TOML tables (validated by the loader).

    `policy` is the `[guard]` table itself; `accounts`, `keys` and `models` hold the
    `[guard.accounts.NAME]`, `[guard.keys.KEY_ID]` and `[guard.models.NAME]` tables,
    merged over it from least to most specific.
    """

    #: on when a `[guard]` section is configured (unless it says `enabled = false`):
    #: with no policy there is nothing to enforce, and scanning would only cost time
    enabled: bool = False
    policy: Mapping[str, Any] = field(default_factory=dict)
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway and the CLI need, resolved once."""

    home: Path
    database: DatabaseSettings
    server: ServerSettings
    simulator: SimulatorSettings
    providers: tuple[ProviderSettings, ...]
    models: tuple[ModelSettings, ...]
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    guard: GuardSettings = field(default_factory=GuardSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    redis_url: str | None = None
    admin_key: str | None = field(default=None, repr=False)
    config_path: Path | None = None

    def __post_init__(self) -> None:
        names = [p.name for p in self.providers]
        _require(len(names) == len(set(names)), "provider names must be unique")
        model_names = {m.name for m in self.models}
        for model in self.models:
            for alias in model.aliases:
                _require(alias not in model_names, f"alias {alias!r} is also a model name")
        for model in self.models:
            _require(
                model.provider in names,
                f"model {model.name}: unknown provider {model.provider!r}",
            )

    def provider(self, name: str) -> ProviderSettings:
        for candidate in self.providers:
            if candidate.name == name:
                return candidate
        raise ConfigError(f"unknown provider {name!r}")


__all__ = [
    "SIMULATOR_MODELS",
    "BillingSettings",
    "DatabaseSettings",
    "DisconnectPolicy",
    "GuardSettings",
    "LimitsSettings",
    "ModelSettings",
    "ProviderKind",
    "ProviderSettings",
    "RoutingSettings",
    "ServerSettings",
    "Settings",
    "SimulatorSettings",
    "StoreErrorPolicy",
]
