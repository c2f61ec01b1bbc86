"""accounts, keys, usage; exit codes 0 / 1 / 2.

`test_the_console_script` runs the real `tokenward` console script; the rest runs
the same entry point (`run_cli`) in-process (tests/helpers/cli.py), to stay fast.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import InProcess, Result, Subprocess, one_line_error, sqlite_url
from tests.ledger.events import make_event
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.repos.event_sink import insert_batch


@pytest.fixture
def cli(run: InProcess) -> InProcess:
    return run


def ok_json(result: Result) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, code: int = 1) -> None:
    """An operation that failed: one "error: ..." line on stderr, exit 1."""
    one_line_error(result, code)


def assert_usage_error(result: Result, *needles: str) -> None:
    """A usage error: one "error: ..." line on stderr, exit 2, no traceback."""
    assert_one_line_error(result, 2)
    assert result.stdout == ""
    flat = result.stderr
    for needle in needles:
        assert needle in flat, result.stderr


def test_the_console_script(tmp_path: Path) -> None:
    """The installed entry point: a config file, exit codes 0 / 1 / 2, one line on stderr."""
    other = tmp_path / "elsewhere.db"
    config = tmp_path / "custom.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{other}"\n')
    cli = Subprocess(tmp_path, None)  # no TOKENWARD_DATABASE_URL: the config file decides
    created = cli("accounts", "create", "viaconfig", "--config", str(config))
    assert created.returncode == 0, created.stderr
    assert other.is_file() and not (tmp_path / "home" / "tokenward.db").exists()
    missing, usage = cli.concurrently(
        ("accounts", "show", "nope", "--config", str(config)),
        ("keys", "create"),
    )
    assert_one_line_error(missing)
    assert "nope" in missing.stderr
    assert_usage_error(usage, "--account")


def test_accounts_and_keys_round_trip(cli: InProcess, tmp_path: Path) -> None:
    created = ok_json(cli("accounts", "create", "acme", "--billing", "prepaid", "--format", "json"))
    assert isinstance(created, list) and created[0]["name"] == "acme"
    assert created[0]["billing_mode"] == "prepaid"
    assert [a["name"] for a in ok_json(cli("accounts", "list", "--format", "json"))] == ["acme"]
    assert ok_json(cli("accounts", "show", "acme", "--format", "json")) == created

    key = ok_json(
        cli(
            "keys",
            "create",
            "--account",
            "acme",
            "--name",
            "ci",
            "--expires",
            "2099-01-01",
            "--format",
            "json",
        )
    )
    assert isinstance(key, dict)
    assert {"id", "key", "prefix", "account", "name", "expires_at"} <= set(key)
    assert key["key"].startswith("tw-") and key["prefix"] == key["key"][:11]
    assert (key["account"], key["name"]) == ("acme", "ci")
    assert key["expires_at"] == "2099-01-01T00:00:00+00:00"

    listing = cli("keys", "list", "--format", "json")
    assert key["key"] not in listing.stdout  # the plaintext is shown once, at creation
    (row,) = ok_json(listing)
    assert (row["id"], row["prefix"], row["status"]) == (key["id"], key["prefix"], "active")

    revoked = cli("keys", "revoke", key["prefix"])
    assert revoked.returncode == 0 and key["id"] in revoked.stdout
    (row,) = ok_json(cli("keys", "list", "--account", "acme", "--format", "json"))
    assert row["status"] == "revoked" and row["revoked_at"]

    assert ok_json(cli("usage", "--format", "json")) == []
    assert ok_json(cli("usage", "--by", "model,day", "--format", "json")) == []
    with closing(sqlite3.connect(tmp_path / "home" / "tokenward.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_usage_reports_what_the_ledger_holds(cli: InProcess, tmp_path: Path) -> None:
    with migrated_store(DatabaseSettings(url=sqlite_url(tmp_path))) as store:
        insert_batch(
            store,
            [
                make_event("r1", model="m1"),
                make_event("r2", model="m2", output_tokens=9),
                make_event("r3", model="m1", estimated=True),
            ],
        )
    rows = ok_json(cli("usage", "--by", "model", "--by", "day", "--format", "json"))
    assert rows == [
        {
            "model": "m1",
            "day": "2026-01-01",
            "requests": 2,
            "input_tokens": 20,
            "cached_input_tokens": 4,
            "cache_write_tokens": 2,
            "output_tokens": 10,
            "reasoning_tokens": 2,
            "estimated_requests": 1,
            "cost": "0.000000",  # unpriced events add nothing
            "currency": "",
        },
        {
            "model": "m2",
            "day": "2026-01-01",
            "requests": 1,
            "input_tokens": 10,
            "cached_input_tokens": 2,
            "cache_write_tokens": 1,
            "output_tokens": 9,
            "reasoning_tokens": 1,
            "estimated_requests": 0,
            "cost": "0.000000",
            "currency": "",
        },
    ]
    csv = cli("usage", "--since", "2026-01-01", "--until", "2026-01-02T00:00Z", "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines()[0].startswith("requests,input_tokens,")
    assert csv.stdout.splitlines()[1].startswith("3,30,")
    assert ok_json(cli("usage", "--since", "2026-01-02", "--format", "json")) == []


def test_failed_operations_exit_1_with_one_line(cli: InProcess) -> None:
    assert cli("accounts", "create", "acme").returncode == 0
    assert_one_line_error(cli("accounts", "create", "acme"))
    assert_one_line_error(cli("accounts", "create", "bad name"))
    assert_one_line_error(cli("accounts", "show", "nope"))
    assert_one_line_error(cli("keys", "create", "--account", "nope"))
    assert_one_line_error(cli("keys", "create", "--account", "acme", "--expires", "2001-01-01"))
    assert_one_line_error(cli("keys", "revoke", "key_nope"))
    assert_one_line_error(cli("usage", "--account", "nope"))


def test_usage_errors_exit_2(cli: InProcess) -> None:
    assert_usage_error(cli("keys", "create", "--account", "a", "--expires", "soon"), "'soon'")
    assert_usage_error(cli("usage", "--by", "week"), "--by", "cannot group by 'week'")
    assert_usage_error(cli("usage", "--since", "yesterday"), "'yesterday' is not an ISO date")
    assert_usage_error(
        cli("usage", "--since", "2026-02-01", "--until", "2026-01-01"), "--since", "before"
    )
    assert_usage_error(cli("accounts", "create", "x", "--billing", "free"), "--billing")
    assert_usage_error(cli("keys", "create"), "--account")


def test_the_cli_works_on_postgresql(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_database_url: str,
) -> None:
    cli = InProcess(tmp_path, monkeypatch, capsys, postgres_database_url)
    assert cli("accounts", "create", "pg-acme").returncode == 0
    key = ok_json(cli("keys", "create", "--account", "pg-acme", "--format", "json"))
    assert isinstance(key, dict) and key["account"] == "pg-acme"
    assert ok_json(cli("usage", "--by", "account", "--format", "json")) == []
