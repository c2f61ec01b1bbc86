"""`limits set|list|delete`, `keys create --rpm`.

`test_the_console_script` runs the real `tokenward` console script; the rest runs
the same entry point (`run_cli`) in-process, to stay fast.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.helpers.cli import InProcess, Subprocess, one_line_error


def test_the_console_script(run: InProcess, tmp_path: Path) -> None:
    """The installed entry point: exit codes 0 / 1 / 2, one line on stderr."""
    assert run("accounts", "create", "acme").returncode == 0  # the database, before the runs
    listed, unknown, usage = Subprocess(tmp_path).concurrently(
        ("limits", "list", "--format", "json"),
        ("limits", "set", "--key", "key_nope", "--rpm", "5"),
        ("limits", "set", "--scope", "galaxy", "--rpm", "5"),
    )
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
    one_line_error(unknown, 1, "unknown key id")
    one_line_error(usage, 2, "--scope")


def test_limits_set_list_and_delete(run: InProcess) -> None:
    assert run("accounts", "create", "acme").returncode == 0
    key = run.json("keys", "create", "--account", "acme", "--rpm", "100", "--concurrency", "5")
    assert (key["rpm"], key["tpm"], key["concurrency"]) == (100, None, 5)
    [rule] = run.json("limits", "set", "--account", "acme", "--tpm", "50000")
    assert (rule["scope"], rule["target"], rule["tpm"]) == ("account", "acme", 50_000)
    [merged] = run.json("limits", "set", "--account", "acme", "--tpd", "1000000")
    assert (merged["tpm"], merged["tpd"]) == (50_000, 1_000_000)
    run.json("limits", "set", "--key", key["id"], "--model", "sim-large", "--rpm", "3")
    run.json("limits", "set", "--model", "sim-small", "--concurrency", "64")
    listed = run.json("limits", "list")
    assert [(r["scope"], r["model"], r["rpm"], r["concurrency"]) for r in listed] == [
        ("account", None, None, None),
        ("key", None, 100, 5),
        ("key", "sim-large", 3, None),
        ("model", None, None, 64),
    ]
    table = run("limits", "list")
    assert table.returncode == 0 and "acme" in table.stdout and "sim-large" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("limits", "list", "--format", "csv").stdout)))
    assert rows[0]["target"] == "acme" and rows[0]["tpm"] == "50000"
    deleted = run("limits", "delete", "--model", "sim-small")
    assert deleted.returncode == 0, deleted.stderr
    assert len(run.json("limits", "list")) == 3


def test_bad_limits_fail_with_one_line_and_the_right_exit_code(run: InProcess) -> None:
    assert run("accounts", "create", "acme").returncode == 0
    one_line_error(run("limits", "set", "--account", "acme", "--rpm", "0"), 1, "rpm must be")
    one_line_error(run("limits", "set", "--account", "acme", "--tpm", "-5"), 1, "tpm must be")
    one_line_error(run("limits", "set", "--account", "acme"), 1, "at least one limit")
    one_line_error(run("limits", "set", "--rpm", "5"), 1, "name what the limits apply to")
    one_line_error(run("limits", "set", "--account", "nope", "--rpm", "5"), 1, "unknown account")
    one_line_error(run("limits", "set", "--key", "key_nope", "--rpm", "5"), 1, "unknown key id")
    one_line_error(run("limits", "set", "--model", "gpt-9", "--rpm", "5"), 1, "unknown model")
    one_line_error(
        run("limits", "set", "--account", "acme", "--plan", "gold", "--rpm", "5"), 1, "one of key"
    )
    one_line_error(run("limits", "set", "--account", "acme", "--rpm", "many"), 2, "--rpm")
    one_line_error(run("limits", "set", "--scope", "galaxy", "--rpm", "5"), 2, "--scope")
    one_line_error(run("limits", "delete", "--account", "acme"), 1, "no limits are set")
    # a key with bad limits is not created at all
    one_line_error(run("keys", "create", "--account", "acme", "--rpm", "0"), 1, "rpm must be")
    assert run.json("keys", "list") == []
    assert run.json("limits", "list") == []
