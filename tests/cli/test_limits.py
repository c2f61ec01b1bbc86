"""The real `tokenward` console script: `limits set|list|delete`, `keys create --rpm`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        self.env.update(
            TOKENWARD_HOME=str(tmp_path / "home"),
            TOKENWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'home' / 'tokenward.db'}",
            COLUMNS="200",
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TOKENWARD, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]


def test_limits_set_list_and_delete(cli: Cli) -> None:
    assert cli("accounts", "create", "acme").returncode == 0
    key = cli.json("keys", "create", "--account", "acme", "--rpm", "100", "--concurrency", "5")
    assert (key["rpm"], key["tpm"], key["concurrency"]) == (100, None, 5)
    [rule] = cli.json("limits", "set", "--account", "acme", "--tpm", "50000")
    assert (rule["scope"], rule["target"], rule["tpm"]) == ("account", "acme", 50_000)
    [merged] = cli.json("limits", "set", "--account", "acme", "--tpd", "1000000")
    assert (merged["tpm"], merged["tpd"]) == (50_000, 1_000_000)
    cli.json("limits", "set", "--key", key["id"], "--model", "sim-large", "--rpm", "3")
    cli.json("limits", "set", "--model", "sim-small", "--concurrency", "64")
    listed = cli.json("limits", "list")
    assert [(r["scope"], r["model"], r["rpm"], r["concurrency"]) for r in listed] == [
        ("account", None, None, None),
        ("key", None, 100, 5),
        ("key", "sim-large", 3, None),
        ("model", None, None, 64),
    ]
    table = cli("limits", "list")
    assert table.returncode == 0 and "acme" in table.stdout and "sim-large" in table.stdout
    rows = list(csv.DictReader(io.StringIO(cli("limits", "list", "--format", "csv").stdout)))
    assert rows[0]["target"] == "acme" and rows[0]["tpm"] == "50000"
    deleted = cli("limits", "delete", "--model", "sim-small")
    assert deleted.returncode == 0, deleted.stderr
    assert len(cli.json("limits", "list")) == 3


def test_bad_limits_fail_with_one_line_and_the_right_exit_code(cli: Cli) -> None:
    assert cli("accounts", "create", "acme").returncode == 0
    one_line_error(cli("limits", "set", "--account", "acme", "--rpm", "0"), 1, "rpm must be")
    one_line_error(cli("limits", "set", "--account", "acme", "--tpm", "-5"), 1, "tpm must be")
    one_line_error(cli("limits", "set", "--account", "acme"), 1, "at least one limit")
    one_line_error(cli("limits", "set", "--rpm", "5"), 1, "name what the limits apply to")
    one_line_error(cli("limits", "set", "--account", "nope", "--rpm", "5"), 1, "unknown account")
    one_line_error(cli("limits", "set", "--key", "key_nope", "--rpm", "5"), 1, "unknown key id")
    one_line_error(cli("limits", "set", "--model", "gpt-9", "--rpm", "5"), 1, "unknown model")
    one_line_error(
        cli("limits", "set", "--account", "acme", "--plan", "gold", "--rpm", "5"), 1, "one of key"
    )
    one_line_error(cli("limits", "set", "--account", "acme", "--rpm", "many"), 2, "--rpm")
    one_line_error(cli("limits", "set", "--scope", "galaxy", "--rpm", "5"), 2, "--scope")
    one_line_error(cli("limits", "delete", "--account", "acme"), 1, "no limits are set")
    # a key with bad limits is not created at all
    one_line_error(cli("keys", "create", "--account", "acme", "--rpm", "0"), 1, "rpm must be")
    assert cli.json("keys", "list") == []
    assert cli.json("limits", "list") == []
