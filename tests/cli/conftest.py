"""`run`: `tokenward ARGS` in-process (see tests/helpers/cli.py), on SQLite in tmp_path/home."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import InProcess


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> InProcess:
    return InProcess(tmp_path, monkeypatch, capsys)
