"""The `[limits]` section: file and environment, defaults, and refused values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenward.config import LimitsSettings, load_settings
from tokenward.errors import ConfigError


def test_limits_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "tokenward.toml"
    config.write_text("[limits]\nlease_s = 30\ndefault_key_rpm = 600\ndefault_key_tpm = 90000\n")
    settings = load_settings(
        config,
        env={
            "TOKENWARD_LIMITS__ON_STORE_ERROR": "fail_closed",
            "TOKENWARD_LIMITS__DEFAULT_KEY_TPM": "",
            "TOKENWARD_LIMITS__REDIS_TIMEOUT_MS": "80",
        },
    )
    limits = settings.limits
    assert (limits.on_store_error, limits.lease_s, limits.redis_timeout_ms) == (
        "fail_closed",
        30.0,
        80.0,
    )
    assert (limits.default_key_rpm, limits.default_key_tpm) == (600, None)


def test_defaults_limit_nothing() -> None:
    limits = load_settings(env={}).limits
    assert limits == LimitsSettings()
    assert limits.on_store_error == "fail_open" and limits.lease_s == 60
    assert limits.default_output_tokens == 1024 and limits.rules_cache_ttl_s <= 1
    assert limits.default_key_rpm is None and limits.default_key_concurrency is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ON_STORE_ERROR", "deny", "on_store_error must be"),
        ("LEASE_S", "0", "lease_s"),
        ("REDIS_TIMEOUT_MS", "0", "redis_timeout_ms"),
        ("DEFAULT_OUTPUT_TOKENS", "0", "default_output_tokens"),
        ("RULES_CACHE_TTL_S", "5", "rules_cache_ttl_s"),
        ("DEFAULT_KEY_RPM", "0", "default_key_rpm must be >= 1"),
        ("DEFAULT_KEY_CONCURRENCY", "-1", "default_key_concurrency"),
        ("DEFAULT_KEY_TPM", "many", "expected int"),
        ("BURST", "1", "unknown keys: burst"),
    ],
)
def test_bad_limits_fail_at_load_time(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={f"TOKENWARD_LIMITS__{key}": value})
