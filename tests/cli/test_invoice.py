"""`tokenward invoice`: formats, --output, errors and exit codes.

`test_the_console_script` runs the real `tokenward` console script; the rest runs
the same entry point (`run_cli`) in-process (tests/helpers/cli.py), to stay fast.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.billing.helpers import account, event, plan_fee, post
from tests.helpers.cli import InProcess, Subprocess, one_line_error, sqlite_url
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.repos.event_sink import insert_batch

NOVEMBER = ("invoice", "--account", "acme", "--period", "2026-11")


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> InProcess:
    """A database with 'acme' (USD usage and a plan fee) and 'multi' (USD and CNY)."""
    (tmp_path / "home").mkdir()
    with migrated_store(DatabaseSettings(url=sqlite_url(tmp_path))) as store:
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
    return InProcess(tmp_path, monkeypatch, capsys, columns="250", text=False)


def test_the_console_script(cli: InProcess, tmp_path: Path) -> None:
    """The installed entry point: the same bytes on stdout as in-process, exit 0 / 1 / 2."""
    real = Subprocess(tmp_path, columns="250", text=False)
    document, several, usage = real.concurrently(
        (*NOVEMBER, "--format", "json"),
        ("invoice", "--account", "multi", "--period", "2026-11"),
        (*NOVEMBER, "--format", "pdf"),
    )
    assert document.returncode == 0, document.stderr
    assert document.stdout == cli(*NOVEMBER, "--format", "json").stdout
    assert json.loads(document.stdout)["invoice_number"] == "TW-acme-202611-USD"
    one_line_error(several, 1, "several currencies")
    one_line_error(usage, 2, "--format")


def test_invoice_formats_and_output_file(cli: InProcess, tmp_path: Path) -> None:
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


def test_invoice_errors(cli: InProcess) -> None:
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
