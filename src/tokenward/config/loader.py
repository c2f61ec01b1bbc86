"""Read `tokenward.toml` and `TOKENWARD_*` variables into `Settings`, once.

Resolution, last wins: embedded defaults < config file < environment.
Top-level keys map to `TOKENWARD_<KEY>` (e.g. `TOKENWARD_DATABASE_URL`), keys of a
section to `TOKENWARD_<SECTION>__<KEY>` (e.g. `TOKENWARD_SERVER__PORT`). The config
file is `--config FILE`, else `$TOKENWARD_CONFIG`, else `./tokenward.toml` if present.
This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from tokenward.config.schema import (
    BillingSettings,
    DatabaseSettings,
    GuardSettings,
    LimitsSettings,
    ModelSettings,
    ProviderSettings,
    RoutingSettings,
    ServerSettings,
    Settings,
    SimulatorSettings,
)
from tokenward.errors import ConfigError

T = TypeVar("T")

ENV_PREFIX = "TOKENWARD_"
DEFAULT_CONFIG_NAME = "tokenward.toml"
SIMULATOR_PROVIDER = "simulator"

_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "simulator": SimulatorSettings,
    "routing": RoutingSettings,
    "limits": LimitsSettings,
    "billing": BillingSettings,
}
_TOP_LEVEL = ("home", "database_url", "redis_url", "admin_key")


def resolve_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file in force, or None for embedded defaults only."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    from_env = env.get(ENV_PREFIX + "CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from TOKENWARD_CONFIG)")
        return path
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated `Settings`; `overrides` are CLI flags such as {"server.port": 4001}."""
    env = dict(os.environ) if env is None else dict(env)
    path = resolve_config_path(config_path, env)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    _apply_env(raw, env)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        (raw.setdefault(section, {}) if section else raw)[key] = value
    return _build(raw, env, path)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name in _TOP_LEVEL:
        value = env.get(ENV_PREFIX + name.upper())
        if value is not None:
            raw[name] = value
    for section in _SECTIONS:
        prefix = f"{ENV_PREFIX}{section.upper()}__"
        for var, value in env.items():
            if var.startswith(prefix):
                raw.setdefault(section, {})[var[len(prefix) :].lower()] = value


def _build(raw: dict[str, Any], env: Mapping[str, str], path: Path | None) -> Settings:
    unknown = set(raw) - {*_TOP_LEVEL, *_SECTIONS, "providers", "models", "guard"}
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
    home = Path(str(raw.get("home") or "./.tokenward"))
    database_raw = dict(raw.get("database") or {})
    database_raw.setdefault(
        "url", raw.get("database_url") or f"sqlite:///{(home / 'tokenward.db').as_posix()}"
    )
    providers = tuple(
        _provider(name, dict(body), env) for name, body in (raw.get("providers") or {}).items()
    )
    models = tuple(_section(ModelSettings, dict(m), "models") for m in raw.get("models") or [])
    simulator = _section(SimulatorSettings, dict(raw.get("simulator") or {}), "simulator")
    if not models:
        # no models configured: serve the simulator's, so a fresh install works offline
        if not any(p.name == SIMULATOR_PROVIDER for p in providers):
            providers += (ProviderSettings(name=SIMULATOR_PROVIDER, kind="simulator"),)
        models = tuple(
            ModelSettings(name=m, provider=SIMULATOR_PROVIDER, upstream_model=m)
            for m in simulator.models
        )
    return Settings(
        home=home,
        database=_section(DatabaseSettings, database_raw, "database"),
        server=_section(ServerSettings, dict(raw.get("server") or {}), "server"),
        simulator=simulator,
        providers=providers,
        models=models,
        routing=_section(RoutingSettings, dict(raw.get("routing") or {}), "routing"),
        guard=_guard(dict(raw.get("guard") or {}), env),
        limits=_section(LimitsSettings, dict(raw.get("limits") or {}), "limits"),
        billing=_section(BillingSettings, dict(raw.get("billing") or {}), "billing"),
        redis_url=_optional_str(raw.get("redis_url")),
        admin_key=_optional_str(raw.get("admin_key")),
        config_path=path,
    )


def _provider(name: str, body: dict[str, Any], env: Mapping[str, str]) -> ProviderSettings:
    if "api_key" in body and not body.pop("allow_plaintext_key", False):
        raise ConfigError(
            f"provider {name}: put the key in an environment variable and name it in "
            "api_key_env, or in a file named by api_key_file (or set allow_plaintext_key = true)"
        )
    preset_name = body.get("preset")
    if preset_name is not None:
        from tokenward.providers.presets import get_preset

        preset = get_preset(str(preset_name))
        body.setdefault("kind", preset.kind)
        body.setdefault("base_url", preset.base_url)
    key_env, key_file = body.get("api_key_env"), body.get("api_key_file")
    if "api_key" not in body:
        if key_env:
            body["api_key"] = env.get(str(key_env))
        elif key_file:
            body["api_key"] = _read_secret(Path(str(key_file)), name)
    return _section(ProviderSettings, {"name": name, **body}, f"providers.{name}")


def _guard(raw: dict[str, Any], env: Mapping[str, str]) -> GuardSettings:
    """`[guard]` and its per-account / key / model layers, each validated now."""
    from tokenward.guard import merge_policies

    enabled = raw.pop("enabled", bool(raw))
    if ENV_PREFIX + "GUARD__ENABLED" in env:
        enabled = env[ENV_PREFIX + "GUARD__ENABLED"]
    layers: dict[str, dict[str, Any]] = {}
    for kind in ("accounts", "keys", "models"):
        table = raw.pop(kind, {}) or {}
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ConfigError(f"guard.{kind} must be a table of tables")
        layers[kind] = table
    merge_policies(raw, where="guard")
    for kind, table in layers.items():
        for name, layer in table.items():
            merge_policies(raw, layer, where=f"guard.{kind}.{name}")
    return GuardSettings(
        enabled=bool(_coerce(enabled, bool, "guard.enabled")),
        policy=raw,
        accounts=layers["accounts"],
        keys=layers["keys"],
        models=layers["models"],
    )


def _read_secret(path: Path, provider: str) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"provider {provider}: cannot read api_key_file {path}: {exc}") from exc
    if not secret:
        raise ConfigError(f"provider {provider}: api_key_file {path} is empty")
    return secret


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _section(cls: type[T], values: dict[str, Any], where: str) -> T:
    """Build a settings dataclass from TOML/env values, coercing env strings by field type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - fields
    if unknown:
        raise ConfigError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    coerced = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**coerced)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(str(i).strip() for i in items)
    if origin is typing.Literal:
        return value
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if hint is Path:
            return Path(str(value))
        if hint is str:
            return str(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}") from exc
    return value


def pin_config_path_for_workers(path: Path | None) -> None:
    """Worker processes re-read settings; make them find the same config file."""
    if path is not None:
        os.environ[ENV_PREFIX + "CONFIG"] = str(path.resolve())


__all__ = ["ENV_PREFIX", "load_settings", "pin_config_path_for_workers", "resolve_config_path"]
