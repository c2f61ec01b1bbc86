"""`credits grant|balance`, `ledger check` and `accounts create --billing`.

`ledger check` on a broken ledger runs the real console script; the rest runs the same
entry point (`run_cli`) in-process (tests/helpers/cli.py), to stay fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers.cli import InProcess, Subprocess, one_line_error


def test_grant_balance_and_ledger_check(run: InProcess, tmp_path: Path) -> None:
    assert run("accounts", "create", "acme", "--billing", "prepaid").returncode == 0
    [granted] = run.json("credits", "grant", "--account", "acme", "--amount", "100.00")
    assert (granted["currency"], granted["available"], granted["granted"]) == (
        "USD",
        "100.000000",
        "100.000000",
    )
    grant_eur = ("--amount", "5", "--currency", "eur", "--memo", "welcome")
    assert run("credits", "grant", "--account", "acme", *grant_eur).returncode == 0
    balances = run.json("credits", "balance", "--account", "acme")
    assert [(b["currency"], b["available"], b["reserved"], b["spent"]) for b in balances] == [
        ("EUR", "5.000000", "0.000000", "0.000000"),
        ("USD", "100.000000", "0.000000", "0.000000"),
    ]
    [report] = run.json("ledger", "check")
    assert report["ok"] is True and report["transactions"] == 2 and report["problems"] == []
    with sqlite3.connect(tmp_path / "home" / "tokenward.db") as db:  # tamper behind its back
        db.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1")
    result = Subprocess(tmp_path)("ledger", "check")  # the real console script: exit 1
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert sum(line.startswith("problem: account") for line in lines) == 4
    assert lines[-1] == "error: the ledger has 4 problem(s)"


def error(run: InProcess, code: int, needle: str, *args: str) -> None:
    one_line_error(run(*args), code, needle)


def test_bad_credit_commands_fail_with_one_line(run: InProcess) -> None:
    assert run("accounts", "create", "acme", "--billing", "prepaid").returncode == 0
    grant = ("credits", "grant", "--account", "acme", "--amount")
    error(run, 1, "must not be negative", *grant, "-3")
    error(run, 1, "not a decimal number", *grant, "lots")
    error(run, 1, "greater than zero", *grant, "0")
    error(run, 1, "more than 6 decimal places", *grant, "0.0000001")
    error(run, 1, "unknown currency 'DOGE'", *grant, "1", "--currency", "DOGE")
    nope = ("--account", "nope")
    error(run, 1, "unknown account 'nope'", "credits", "grant", *nope, "--amount", "1")
    error(run, 1, "unknown account 'nope'", "credits", "balance", *nope)
    error(run, 2, "--amount", "credits", "grant", "--account", "acme")
    error(run, 2, "--billing", "accounts", "create", "beta", "--billing", "free")
    assert run.json("credits", "balance", "--account", "acme") == []
    [beta] = run.json("accounts", "create", "beta", "--billing", "postpaid")
    assert beta["billing_mode"] == "postpaid"
    checked = run("ledger", "check")
    assert checked.returncode == 0 and "True" in checked.stdout
