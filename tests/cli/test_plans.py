"""`tokenward plans ...`: flags and plan files, subscriptions, waitlists, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.helpers.cli import Subprocess
from tokenward.cli import app
from tokenward.errors import TokenwardError

PLAN_TOML = """
name = "ignored-the-argument-wins"
currency = "CNY"
price = "99.00"
tier = "gold"
periods = { month = "0", year = "15" }
models = ["glm-*"]
max_subscribers = 1

[[quotas]]
window = "5h"
unit = "requests"
limit = 100

[[quotas]]
window = "week"
unit = "tokens"
limit = 2000000
kind = "session"

[weights.models]
"glm-4-plus" = "2"
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TOKENWARD_HOME": str(tmp_path / "home"),
        "TOKENWARD_DATABASE_URL": f"sqlite:///{tmp_path / 'home' / 'tokenward.db'}",
        "COLUMNS": "250",
    }
    for name in [name for name in os.environ if name.startswith("TOKENWARD_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def js(*args: str) -> Any:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


def test_create_subscribe_reprice_cancel(env: dict[str, str]) -> None:
    for name in ("acme", "beta"):
        assert run("accounts", "create", name).exit_code == 0
    [plan] = js(
        "plans", "create", "pro", "--currency", "USD", "--price", "20.00",
        "--period-discount", "quarter=10", "--period-discount", "year=20",
        "--first-purchase-discount", "50",
        "--quota", "5h:requests:100", "--quota", "week:tokens:2000000:session",
        "--weight", "gpt-4o*=3", "--peak", "14:00-18:00@Asia/Shanghai=3:glm-*,qwen-*",
        "--models", "gpt-*", "--models", "glm-*", "--concurrency", "2",
        "--overage", "credits", "--max-subscribers", "1", "--daily-sales-cap", "5",
        "--tier", "gold", "--grandfather", "forever", "--price-multiplier", "1.5",
    )  # fmt: skip
    assert plan["periods"] == {"month": "0", "quarter": "10", "year": "20"}
    assert plan["quotas"] == ["100 requests per 5h (sliding)", "2000000 tokens per week (session)"]
    assert plan["weights"]["times"][0]["models"] == ["glm-*", "qwen-*"]
    assert (plan["overage"], plan["grandfather"], plan["tier"]) == ("credits", "forever", "gold")
    assert (plan["max_subscribers"], plan["daily_sales_cap"], plan["concurrency"]) == (1, 5, 2)

    [sub] = js("plans", "subscribe", "--account", "acme", "--plan", "pro", "--period", "quarter")
    assert (sub["status"], sub["price"], sub["plan_version"]) == ("active", "27.000000", "pro@v1")
    waiting = run("plans", "subscribe", "--account", "beta", "--plan", "pro")
    assert waiting.exit_code == 0 and "waitlisted" in waiting.output
    assert "is full (1 of 1 seats taken)" in waiting.output
    assert [w["account"] for w in js("plans", "waitlist", "pro")] == ["beta"]

    [repriced] = js("plans", "reprice", "pro", "--price", "26", "--first-purchase-discount", "0")
    assert (repriced["version"], repriced["price"]) == (2, "26.000000")
    assert repriced["periods"]["year"] == "20" and repriced["tier"] == "gold"
    [shown] = js("plans", "show", "pro")
    assert [v["price"] for v in shown["versions"]] == ["20.000000", "26.000000"]
    assert "pro@v2" in run("plans", "show", "pro").output

    canceled, promoted = js("plans", "cancel", "--account", "acme")
    assert (canceled["status"], promoted["account"], promoted["status"]) == (
        "canceled",
        "beta",
        "active",
    )
    assert promoted["price"] == "26.000000"  # first purchase, but v2 removed the discount
    [listed] = js("plans", "list")
    assert (listed["seats"], listed["waitlisted"]) == ("1/1", 0)
    assert "26.000000" in run("plans", "list").output
    assert js("plans", "renew") == []


def test_a_plan_file_with_flags_over_it(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN_TOML, encoding="utf-8")
    [plan] = js("plans", "create", "lite", "--file", str(path), "--max-subscribers", "3")
    assert (plan["name"], plan["currency"], plan["price"]) == ("lite", "CNY", "99.000000")
    assert plan["max_subscribers"] == 3 and plan["models"] == ["glm-*"]
    assert plan["weights"]["models"] == {"glm-4-plus": "2"}
    assert plan["quota_rules"][1] == {
        "window": "week",
        "kind": "session",
        "unit": "tokens",
        "limit": 2_000_000,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "x", "--currency", "USD", "--price", "-1"), "must not be negative"),
        (("create", "x", "--currency", "XYZ", "--price", "1"), "unknown currency 'XYZ'"),
        (("create", "x", "--currency", "USD", "--price", "1", "--quota", "5h"), "--quota expects"),
        (("create", "x", "--currency", "USD", "--price", "1", "--peak", "9-5"), "--peak expects"),
        (("create", "x", "--currency", "USD", "--price", "1", "--weight", "3"), "KEY=VALUE"),
        (("create", "x", "--currency", "USD", "--file", "nope.toml"), "cannot read plan file"),
        (("reprice", "nope", "--price", "1"), "unknown plan 'nope'"),
        (("reprice", "nope", "--effective", "tomorrow"), "--effective must be an ISO 8601"),
        (("subscribe", "--account", "a", "--plan", "nope"), "unknown account 'a'"),
        (("cancel", "--account", "a"), "unknown account 'a'"),
        (("waitlist", "nope"), "unknown plan 'nope'"),
        (("show", "nope"), "unknown plan 'nope'"),
    ],
)
def test_bad_input_fails_in_one_line(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = run("plans", *args)
    assert result.exit_code == 1
    assert isinstance(result.exception, TokenwardError) and message in str(result.exception)
    assert "\n" not in str(result.exception)


def test_the_console_script(env: dict[str, str], tmp_path: Path) -> None:
    """Through the real entry point: exit codes, one line on stderr."""
    assert run("plans", "list").exit_code == 0  # the database, before the runs at once
    ok, bad, usage = Subprocess(tmp_path, columns="250").concurrently(
        ("plans", "list"),
        ("plans", "subscribe", "--account", "a", "--plan", "p", "--period", "week"),
        ("plans", "subscribe"),
    )
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: unknown period 'week': expected month, quarter or year"
    )
    assert usage.returncode == 2
