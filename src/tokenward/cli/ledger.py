"""`tokenward ledger check`: prove the double-entry ledger is consistent (exit 1 if not)."""

from __future__ import annotations

from pathlib import Path

import typer

from tokenward.cli.output import (
    CliFailure,
    ConfigOption,
    FormatOption,
    OutputFormat,
    render,
    settings_for,
)
from tokenward.ledger.check import check_ledger
from tokenward.storage import migrated_store

COLUMNS = ("ok", "transactions", "entries", "accounts", "open_holds", "problems")


def register(app: typer.Typer) -> None:
    ledger = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)

    @ledger.command("check")
    def check(
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Check balanced transactions, stored totals and holds; exit 1 listing each problem."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            report = check_ledger(store)
        row = report.as_dict()
        if fmt is not OutputFormat.json:
            row["problems"] = len(report.problems)
        render([row], fmt, COLUMNS)
        if not report.ok:
            if fmt is not OutputFormat.json:
                for problem in report.problems:
                    typer.echo(f"problem: {problem}", err=True)
            raise CliFailure(f"the ledger has {len(report.problems)} problem(s)")

    app.add_typer(ledger, name="ledger")


__all__ = ["register"]
