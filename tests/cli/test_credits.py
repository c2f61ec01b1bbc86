"""`credits grant|balance`, `ledger check` and `accounts create --billing`.

The happy path and `ledger check`'s exit code run the real console script; the
bad-input matrix runs the same entry point (`run_cli`) in-process, to stay fast.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.cli.test_limits import Cli
from tokenward.cli import app
from tokenward.cli.output import run_cli


def test_grant_balance_and_ledger_check(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    assert cli("accounts", "create", "acme", "--billing", "prepaid").returncode == 0
    [granted] = cli.json("credits", "grant", "--account", "acme", "--amount", "100.00")
    assert (granted["currency"], granted["available"], granted["granted"]) == (
        "USD",
        "100.000000",
        "100.000000",
    )
    grant_eur = ("--amount", "5", "--currency", "eur", "--memo", "welcome")
    assert cli("credits", "grant", "--account", "acme", *grant_eur).returncode == 0
    balances = cli.json("credits", "balance", "--account", "acme")
    assert [(b["currency"], b["available"], b["reserved"], b["spent"]) for b in balances] == [
        ("EUR", "5.000000", "0.000000", "0.000000"),
        ("USD", "100.000000", "0.000000", "0.000000"),
    ]
    [report] = cli.json("ledger", "check")
    assert report["ok"] is True and report["transactions"] == 2 and report["problems"] == []
    with sqlite3.connect(tmp_path / "home" / "tokenward.db") as db:  # tamper behind its back
        db.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1")
    result = cli("ledger", "check")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert sum(line.startswith("problem: account") for line in lines) == 4
    assert lines[-1] == "error: the ledger has 4 problem(s)"


class InProcess:
    """`tokenward ARGS` through `run_cli`, in this process: (exit code, stdout, stderr)."""

    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        for name, value in Cli(tmp_path).env.items():
            if name.startswith("TOKENWARD_") or name == "COLUMNS":
                monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "argv", ["tokenward", *args])
        code = run_cli(app)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def error(self, code: int, needle: str, *args: str) -> None:
        got, out, err = self(*args)
        assert got == code, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert needle in lines[0], lines[0]


def test_bad_credit_commands_fail_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = InProcess(tmp_path, monkeypatch, capsys)
    assert run("accounts", "create", "acme", "--billing", "prepaid")[0] == 0
    grant = ("credits", "grant", "--account", "acme", "--amount")
    run.error(1, "must not be negative", *grant, "-3")
    run.error(1, "not a decimal number", *grant, "lots")
    run.error(1, "greater than zero", *grant, "0")
    run.error(1, "more than 6 decimal places", *grant, "0.0000001")
    run.error(1, "unknown currency 'DOGE'", *grant, "1", "--currency", "DOGE")
    run.error(1, "unknown account 'nope'", "credits", "grant", "--account", "nope", "--amount", "1")
    run.error(1, "unknown account 'nope'", "credits", "balance", "--account", "nope")
    run.error(2, "--amount", "credits", "grant", "--account", "acme")
    run.error(2, "--billing", "accounts", "create", "beta", "--billing", "free")
    code, out, _ = run("credits", "balance", "--account", "acme", "--format", "json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run("accounts", "create", "beta", "--billing", "postpaid", "--format", "json")
    assert code == 0 and json.loads(out)[0]["billing_mode"] == "postpaid"
    code, out, _ = run("ledger", "check")
    assert code == 0 and "True" in out
