"""`tokenward prices import|export|list`.

`test_the_console_script` runs the real `tokenward` console script; the rest runs
the same entry point (`run_cli`) in-process (tests/helpers/cli.py), to stay fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import InProcess, Subprocess, one_line_error

DOC = """
[[books]]
name = "acme"
currency = "USD"

[[books.versions]]
effective_from = "2025-01-01T00:00:00Z"
note = "first"

[[books.versions.windows]]
name = "night"
start = "22:00"
end = "06:00"
timezone = "UTC"
multiplier = "0.5"
models = ["acme-*"]

[[books.versions.models]]
model = "acme-chat"
input = "2.50"
cached_input = "1.25"
output = "10"
source = "https://acme.example/pricing (read 2026-11-01)"
"""


@pytest.fixture
def cli(run: InProcess) -> InProcess:
    return run


def test_the_console_script(run: InProcess, tmp_path: Path) -> None:
    """The installed entry point: exit 0 / 1 / 2, one line on stderr."""
    (tmp_path / "prices.toml").write_text(DOC)
    assert run("prices", "import", str(tmp_path / "prices.toml")).returncode == 0
    (tmp_path / "prices.yaml").write_text("books: []")
    listed, unknown, usage = Subprocess(tmp_path).concurrently(
        ("prices", "list", "--book", "acme", "--at", "2026-01-01T00:00:00Z", "--format", "json"),
        ("prices", "import", str(tmp_path / "prices.yaml")),
        ("prices", "import"),
    )
    assert listed.returncode == 0, listed.stderr
    assert [v["id"] for v in json.loads(listed.stdout)] == ["acme@2025-01-01"]
    one_line_error(unknown, 1, "--format toml|json|csv")
    one_line_error(usage, 2, "Missing argument")


def test_import_list_and_export_round_trip(cli: InProcess, tmp_path: Path) -> None:
    source = tmp_path / "prices.toml"
    source.write_text(DOC)
    imported = cli("prices", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "published acme@2025-01-01 (1 models)" in imported.stdout

    listed = cli.json("prices", "list", "--book", "acme", "--at", "2026-01-01T00:00:00Z")
    assert [v["id"] for v in listed] == ["acme@2025-01-01"]
    assert listed[0]["models"][0]["input"] == "2.50" and listed[0]["windows"][0]["name"] == "night"

    exported = tmp_path / "out.csv"
    written = cli(
        "prices", "export", "--book", "acme", "--format", "csv", "--output", str(exported)
    )
    assert written.returncode == 0, written.stderr
    assert "window,acme,USD,2025-01-01T00:00:00Z" in exported.read_text()
    # the CSV imports back as the same version: a no-op
    back = cli("prices", "import", str(exported))
    assert back.returncode == 0 and "unchanged: acme@2025-01-01" in back.stdout

    table = cli("prices", "list", "--book", "acme", "--at", "2026-01-01T00:00:00Z")
    assert table.returncode == 0 and "acme-chat" in table.stdout and "2.50" in table.stdout


def test_bad_documents_fail_with_one_line(cli: InProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"books": [{"name": "b", "currency": "USD", "versions": [
        {"effective_from": "2025-01-01T00:00:00Z",
         "models": [{"model": "m", "input": 0.5, "output": "1"}]}]}]}))  # fmt: skip
    one_line_error(cli("prices", "import", str(bad)), 1, "not a float")
    unknown = tmp_path / "prices.yaml"
    unknown.write_text("books: []")
    one_line_error(cli("prices", "import", str(unknown)), 1, "--format toml|json|csv")
