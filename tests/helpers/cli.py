"""Run `tokenward ARGS` for CLI tests: as the real console script, or in-process.

Both runners take the same arguments and return a `subprocess.CompletedProcess`
(`.returncode`, `.stdout`, `.stderr`), so one set of assertions fits both:

    cli = Subprocess(tmp_path)                          # the installed entry point
    run = InProcess(tmp_path, monkeypatch, capsys)      # `run_cli(app)`: ms, not ~1.3 s

`Subprocess` proves the console script, its exit codes and its stderr for real; keep
at least one such test per CLI test module. `InProcess` calls the very function the
console script calls (`run_cli(tokenward.cli.app)`) with `sys.argv` patched, the same
environment (other `TOKENWARD_*` variables removed, `TOKENWARD_HOME`,
`TOKENWARD_DATABASE_URL` and `COLUMNS` set) and the working directory `tmp_path`;
stdout and stderr are captured with `capsys`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tokenward.cli import app
from tokenward.cli.output import run_cli

__all__ = ["TOKENWARD", "InProcess", "Subprocess", "cli_env", "one_line_error", "sqlite_url"]

TOKENWARD = str(Path(sys.executable).with_name("tokenward"))

#: what a run returns: str output, or bytes with `text=False`
Result = subprocess.CompletedProcess[Any]


def sqlite_url(tmp_path: Path) -> str:
    """The database `TOKENWARD_HOME=tmp_path/home` would use by default."""
    return f"sqlite:///{tmp_path / 'home' / 'tokenward.db'}"


def cli_env(
    tmp_path: Path, database_url: str | None = None, columns: str | None = "200"
) -> dict[str, str]:
    """The `TOKENWARD_*` (and `COLUMNS`) variables a CLI run gets; None: not set."""
    env = {"TOKENWARD_HOME": str(tmp_path / "home")}
    if database_url is not None:
        env["TOKENWARD_DATABASE_URL"] = database_url
    if columns is not None:
        env["COLUMNS"] = columns
    return env


def _decode(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def one_line_error(result: Result, code: int, needle: str = "") -> None:
    """A failure: exit `code`, and exactly one "error: ..." line on stderr containing `needle`."""
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = _decode(result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]


class _Runner:
    cwd: Path
    env: dict[str, str]
    url: str | None

    def __call__(self, *args: str) -> Result:
        raise NotImplementedError

    def json(self, *args: str) -> Any:
        """`ARGS --format json`, which must succeed: the parsed stdout."""
        result = self(*args, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


class Subprocess(_Runner):
    """The installed `tokenward` console script, in a child process."""

    def __init__(
        self,
        tmp_path: Path,
        database_url: str | None = "",
        *,
        columns: str | None = "200",
        text: bool = True,
    ) -> None:
        """`database_url` "" (default): SQLite in `tmp_path/home`; None: not set."""
        self.cwd, self.text = tmp_path, text
        self.url = sqlite_url(tmp_path) if database_url == "" else database_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        self.env.update(cli_env(tmp_path, self.url, columns))

    def __call__(self, *args: str) -> Result:
        return subprocess.run(
            [TOKENWARD, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=self.text,
            timeout=60,
        )

    def concurrently(self, *commands: Sequence[str]) -> list[Result]:
        """Several independent runs at once (start-up dominates; use the idle cores).

        Only for commands that cannot interfere: e.g. reads of an existing database
        (create it first, two processes migrating one new SQLite file would race).
        """
        children = [
            subprocess.Popen(
                [TOKENWARD, *args],
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=self.text,
            )
            for args in commands
        ]
        results = []
        try:
            for args, child in zip(commands, children, strict=True):
                out, err = child.communicate(timeout=60)
                results.append(Result([TOKENWARD, *args], child.returncode, out, err))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        return results


class InProcess(_Runner):
    """`tokenward ARGS` through `run_cli(app)` in this process, like `Subprocess`."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        database_url: str | None = "",
        *,
        columns: str | None = "200",
        text: bool = True,
    ) -> None:
        self.cwd, self.text = tmp_path, text
        self.url = sqlite_url(tmp_path) if database_url == "" else database_url
        self.monkeypatch, self.capsys = monkeypatch, capsys
        for name in list(os.environ):
            if name.startswith("TOKENWARD_"):
                monkeypatch.delenv(name)
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        self.env = cli_env(tmp_path, self.url, columns)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()  # drop whatever the test printed before
        environ = dict(os.environ)  # a command may pin variables for workers: undo that
        self.monkeypatch.setattr(sys, "argv", ["tokenward", *args])
        try:
            code = run_cli(app)
        finally:
            if dict(os.environ) != environ:
                os.environ.clear()
                os.environ.update(environ)
        captured = self.capsys.readouterr()
        if self.text:
            return Result(["tokenward", *args], code, captured.out, captured.err)
        return Result(["tokenward", *args], code, captured.out.encode(), captured.err.encode())
