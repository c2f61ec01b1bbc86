"""Rendering (table / json / csv) and the one place CLI errors become exit codes."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from tokenward.config import Settings, load_settings
from tokenward.errors import TokenwardError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


ConfigOption = typer.Option(None, "--config", help="Config file (default ./tokenward.toml).")
FormatOption = typer.Option(OutputFormat.table, "--format", help="table | json | csv")


class CliFailure(Exception):
    """An operation failed for a reason the user can read in one line (exit 1)."""


def settings_for(config: Path | None) -> Settings:
    """Same resolution as the server, so CLI and server share one database."""
    return load_settings(config)


def render(rows: Sequence[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str]) -> None:
    """Print rows as a rich table for people, or JSON / CSV for machines."""
    if fmt is OutputFormat.json:
        sys.stdout.write(orjson.dumps(list(rows), default=str).decode() + "\n")
    elif fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
        Console().print(table)


def run_cli(app: typer.Typer) -> int:
    """Run the typer app; map every failure to one line on stderr and an exit code."""
    try:
        result = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return EXIT_FAILED
    except TyperException as exc:  # click's usage errors (exit 2) and other click failures
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"error: {message}", err=True)
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except (TokenwardError, CliFailure) as exc:
        typer.echo(f"error: {exc}", err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else EXIT_OK


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliFailure",
    "ConfigOption",
    "FormatOption",
    "OutputFormat",
    "render",
    "run_cli",
    "settings_for",
]
