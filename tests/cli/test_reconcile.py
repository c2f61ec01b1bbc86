"""`tokenward reconcile`: exit 0 on a match, 1 on a difference, 2 on an unreadable export.

The match and the difference run the real `tokenward` console script; the unreadable
exports run the same entry point (`run_cli`) in-process (tests/helpers/cli.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.billing.helpers import event
from tests.helpers.cli import InProcess, Subprocess, one_line_error, sqlite_url
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.repos.event_sink import insert_batch

DAY = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """The database in tmp_path/home, with two openai/gpt-x events on DAY."""
    (tmp_path / "home").mkdir()
    with migrated_store(DatabaseSettings(url=sqlite_url(tmp_path))) as store:
        insert_batch(
            store,
            [
                event("a", "acc", "0.25", deployment="openai/gpt-x", started_at=DAY),
                event("b", "acc", "0.25", deployment="openai/gpt-x", started_at=DAY),
            ],
        )
    return tmp_path


def write(tmp_path: Path, text: str, name: str = "export.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_match_exits_0_and_a_difference_exits_1(ledger: Path, tmp_path: Path) -> None:
    """The installed entry point (two independent runs, at once)."""
    good = write(
        tmp_path, "date,model,input_tokens,output_tokens,cost\n2026-11-03,gpt-x,20,10,0.5\n"
    )
    bad = write(tmp_path, "Day,Engine,Prompt\n2026-11-03,gpt-x,21\n2026-11-04,gpt-z,1\n", "b.csv")
    args = ["--map", "day=date", "--map", "engine=model", "--map", "prompt=input_tokens"]
    table, result = Subprocess(tmp_path, text=False).concurrently(
        ("reconcile", "--provider", "openai", "--file", good),
        ("reconcile", "--provider", "openai", "--file", bad, *args, "--format", "json"),
    )
    assert table.returncode == 0, table.stderr
    assert b"gpt-x" in table.stdout and b"1 match" in table.stdout
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [(r["model"], r["status"], r["diff_input"]) for r in report["rows"]] == [
        ("gpt-x", "mismatch", -1),
        ("gpt-z", "missing_in_ledger", None),
    ]


def test_unreadable_exports_exit_2_with_one_line(
    ledger: Path, run: InProcess, tmp_path: Path
) -> None:
    floats = write(tmp_path, "date,model,input_tokens\n2026-11-03,gpt-x,1.5\n")
    one_line_error(
        run("reconcile", "--provider", "openai", "--file", floats), 2, "must be a whole number"
    )
    one_line_error(
        run("reconcile", "--provider", "openai", "--file", str(tmp_path / "missing.csv")),
        2,
        "cannot read",
    )
