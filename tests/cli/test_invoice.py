"""The real `tokenward invoice` console script: formats, --output, errors and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.billing.helpers import account, event, plan_fee, post
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.repos.event_sink import insert_batch

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.url = f"sqlite:///{tmp_path / 'home' / 'tokenward.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        self.env.update(
            TOKENWARD_HOME=str(tmp_path / "home"), TOKENWARD_DATABASE_URL=self.url, COLUMNS="250"
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [TOKENWARD, *args], cwd=self.cwd, env=self.env, capture_output=True, timeout=60
        )


def one_line_error(result: subprocess.CompletedProcess[bytes], code: int, needle: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A database with 'acme' (USD usage and a plan fee) and 'multi' (USD and CNY)."""
    made = Cli(tmp_path)
    (tmp_path / "home").mkdir()
    with migrated_store(DatabaseSettings(url=made.url)) as store:
        acme, multi = account(store, "acme"), account(store, "multi")
        insert_batch(
            store,
            [
                event("r1", acme, "0.123456"),
                event("r2", acme, "0.000001", window="off_peak"),
                event("m1", multi, "1", currency="USD"),
                event("m2", multi, "2", currency="CNY"),
            ],
        )
        post(store, plan_fee(acme, 5_000_000, datetime(2026, 11, 1, tzinfo=UTC)))
    return made


def test_invoice_formats_and_output_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("invoice", "--account", "acme", "--period", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["invoice_number"], doc["total"], doc["amount_due"]) == (
        "TW-acme-202611-USD",
        "5.123457",
        "5.123457",
    )
    assert [line["kind"] for line in doc["lines"]] == ["plan_fee", "usage", "usage"]
    again = cli("invoice", "--account", "acme", "--period", "2026-11", "--format", "json")
    assert again.stdout == result.stdout  # byte-identical
    table = cli("invoice", "--account", "acme", "--period", "2026-11", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout.decode())))
    assert rows[-1]["kind"] == "amount_due" and rows[-1]["amount"] == "5.123457"
    target = tmp_path / "invoice.html"
    html = cli("invoice", "--account", "acme", "--period", "2026-11", "--format", "html",
               "--output", str(target))  # fmt: skip
    assert html.returncode == 0 and html.stdout == b"", html.stderr
    assert target.read_text().startswith("<!DOCTYPE html>") and "TW-acme-202611-USD" in (
        target.read_text()
    )


def test_invoice_errors(cli: Cli) -> None:
    one_line_error(
        cli("invoice", "--account", "multi", "--period", "2026-11"), 1, "several currencies"
    )
    cny = cli("invoice", "--account", "multi", "--period", "2026-11", "--currency", "CNY")
    assert cny.returncode == 0 and json.loads(cny.stdout)["total"] == "2.000000"
    one_line_error(cli("invoice", "--account", "nope", "--period", "2026-11"), 1, "unknown account")
    one_line_error(cli("invoice", "--account", "acme", "--period", "11/2026"), 1, "YYYY-MM")
    one_line_error(
        cli("invoice", "--account", "acme", "--period", "2026-11", "--format", "pdf"), 2, "--format"
    )
