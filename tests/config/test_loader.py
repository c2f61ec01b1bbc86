"""Settings resolve defaults < file < environment, and bad values fail at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenward.config import load_settings
from tokenward.errors import ConfigError


def test_no_config_serves_the_simulator_models(tmp_path: Path) -> None:
    settings = load_settings(env={"TOKENWARD_HOME": str(tmp_path)})
    assert [m.name for m in settings.models] == [
        "sim-small",
        "sim-large",
        "sim-reasoner",
        "sim-embed",
    ]
    assert settings.database.url == f"sqlite:///{tmp_path.as_posix()}/tokenward.db"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "tokenward.toml"
    config.write_text(
        '[server]\nport = 4100\non_client_disconnect = "abort"\n'
        '[providers.up]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "UP_KEY"\n'
        '[[models]]\nname = "m"\nprovider = "up"\nupstream_model = "u"\n'
    )
    settings = load_settings(config, env={"TOKENWARD_SERVER__PORT": "4200", "UP_KEY": "secret"})
    assert settings.server.port == 4200
    assert settings.server.on_client_disconnect == "abort"
    assert settings.provider("up").api_key == "secret"
    assert [m.name for m in settings.models] == ["m"]


def test_cli_overrides_win(tmp_path: Path) -> None:
    settings = load_settings(env={}, overrides={"server.port": 4300, "server.host": None})
    assert settings.server.port == 4300
    assert settings.server.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOKENWARD_SERVER__PORT": "eighty"}, "server.port"),
        ({"TOKENWARD_SERVER__PORT": "70000"}, "server.port"),
        ({"TOKENWARD_SERVER__ON_CLIENT_DISCONNECT": "maybe"}, "on_client_disconnect"),
        ({"TOKENWARD_SERVER__NOPE": "1"}, "unknown keys"),
        ({"TOKENWARD_DATABASE_URL": "mysql://x"}, "database url"),
        ({"TOKENWARD_SIMULATOR__ERROR_RATE": "2"}, "error_rate"),
    ],
)
def test_bad_values_fail_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_plaintext_upstream_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        '[providers.up]\nkind = "openai"\nbase_url = "http://x/v1"\napi_key = "sk-123"\n'
    )
    with pytest.raises(ConfigError, match="api_key_env"):
        load_settings(config, env={})


def test_the_shipped_example_config_is_valid(tmp_path: Path) -> None:
    from importlib.resources import files

    example = tmp_path / "tokenward.toml"
    example.write_text(files("tokenward.config").joinpath("example.toml").read_text())
    assert load_settings(example, env={}).server.port == 4000


def test_upstream_keys_come_from_a_file_and_presets_fill_the_base_url(tmp_path: Path) -> None:
    secret = tmp_path / "deepseek.key"
    secret.write_text("sk-from-file\n")
    config = tmp_path / "t.toml"
    config.write_text(
        f'[providers.ds]\npreset = "deepseek"\napi_key_file = "{secret}"\n'
        '[[models]]\nname = "deepseek-chat"\nprovider = "ds"\nupstream_model = "deepseek-chat"\n'
        '[[models]]\nname = "deepseek-chat"\nprovider = "ds"\nupstream_model = "v3"\nweight = 2\n'
    )
    settings = load_settings(config, env={})
    provider = settings.provider("ds")
    assert provider.api_key == "sk-from-file"
    assert provider.kind == "openai" and provider.base_url.startswith("https://api.deepseek.com")
    assert [m.weight for m in settings.models] == [1.0, 2.0]


def test_unknown_presets_and_missing_key_files_fail_clearly(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[providers.x]\npreset = "nope"\n')
    with pytest.raises(ConfigError, match="unknown provider preset"):
        load_settings(config, env={})
    config.write_text('[providers.x]\npreset = "openai"\napi_key_file = "/nonexistent/key"\n')
    with pytest.raises(ConfigError, match="api_key_file"):
        load_settings(config, env={})


def test_the_guard_is_on_exactly_when_a_policy_is_configured(tmp_path: Path) -> None:
    assert load_settings(env={}).guard.enabled is False
    config = tmp_path / "t.toml"
    config.write_text('[guard.request]\ncn_resident_id = "block"\n')
    assert load_settings(config, env={}).guard.enabled is True
    config.write_text('[guard]\nenabled = false\n[guard.request]\nemail = "redact"\n')
    assert load_settings(config, env={}).guard.enabled is False
    config.write_text('[guard.request]\nemail = "drop"\n')
    with pytest.raises(ConfigError, match=r"guard\.request\.email"):
        load_settings(config, env={})
