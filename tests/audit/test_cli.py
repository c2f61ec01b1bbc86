"""The real `tokenward audit` console script: exit 0 on an intact chain, 1 naming the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from tokenward.audit import AuditLog, GuardSecretCheck
from tokenward.clock import FakeClock
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import migrated_store
from tokenward.storage.tables import audit_log

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))


@pytest.fixture
def home(tmp_path: Path, secret_check: GuardSecretCheck) -> Path:
    """A TOKENWARD_HOME whose default database holds a 12-record chain."""
    home = tmp_path / "home"
    with migrated_store(DatabaseSettings(url=f"sqlite:///{home / 'tokenward.db'}")) as store:
        log = AuditLog(store, FakeClock(), secret_check=secret_check)
        for i in range(12):
            log.append("cli", "account.create", f"acct_{i}", {"billing_mode": "prepaid"})
    return home


def tokenward(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env.update(TOKENWARD_HOME=str(home), COLUMNS="200")  # rich truncates tables at 80
    return subprocess.run(
        [TOKENWARD, *args], cwd=home.parent, env=env, capture_output=True, text=True, timeout=60
    )


def tamper(home: Path, seq: int) -> None:
    url = f"sqlite:///{home / 'tokenward.db'}"
    with migrated_store(DatabaseSettings(url=url)) as store, store.transaction() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(actor="mallory"))


def test_verify_passes_then_names_the_edited_record(home: Path) -> None:
    intact = tokenward(home, "audit", "verify", "--format", "json")
    assert intact.returncode == 0, intact.stderr
    [report] = json.loads(intact.stdout)
    assert report["ok"] is True and report["checked"] == report["head_seq"] == 12
    assert intact.stderr == ""

    tamper(home, 7)
    broken = tokenward(home, "audit", "verify")
    assert broken.returncode == 1, (broken.stdout, broken.stderr)
    lines = broken.stderr.strip().splitlines()
    assert len(lines) == 1, broken.stderr  # one line, no traceback
    assert lines[0].startswith("error: audit record seq 7 (id aud_")
    assert "hash mismatch" in lines[0]

    as_json = tokenward(home, "audit", "verify", "--format", "json")
    assert as_json.returncode == 1
    [report] = json.loads(as_json.stdout)
    assert (report["ok"], report["first_bad"], report["checked"]) == (False, 7, 6)


def test_list_shows_the_newest_records_or_a_page(home: Path) -> None:
    newest = tokenward(home, "audit", "list", "--limit", "3", "--format", "json")
    assert newest.returncode == 0, newest.stderr
    rows = json.loads(newest.stdout)
    assert [r["seq"] for r in rows] == [10, 11, 12]
    assert rows[0]["details"] == {"billing_mode": "prepaid"} and len(rows[0]["hash"]) == 64

    page = tokenward(home, "audit", "list", "--after", "2", "--limit", "2", "--format", "json")
    assert [r["seq"] for r in json.loads(page.stdout)] == [3, 4]

    table = tokenward(home, "audit", "list", "--limit", "2")
    assert table.returncode == 0 and "account.create" in table.stdout


def test_a_bad_limit_is_a_usage_error(home: Path) -> None:
    result = tokenward(home, "audit", "list", "--limit", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
