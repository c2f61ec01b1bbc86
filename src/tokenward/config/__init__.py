"""Configuration: frozen typed settings, read once at the edge."""

from tokenward.config.loader import (
    ENV_PREFIX,
    load_settings,
    pin_config_path_for_workers,
    resolve_config_path,
)
from tokenward.config.schema import (
    SIMULATOR_MODELS,
    DatabaseSettings,
    LimitsSettings,
    ModelSettings,
    ProviderSettings,
    ServerSettings,
    Settings,
    SimulatorSettings,
)

__all__ = [
    "ENV_PREFIX",
    "SIMULATOR_MODELS",
    "DatabaseSettings",
    "LimitsSettings",
    "ModelSettings",
    "ProviderSettings",
    "ServerSettings",
    "Settings",
    "SimulatorSettings",
    "load_settings",
    "pin_config_path_for_workers",
    "resolve_config_path",
]
