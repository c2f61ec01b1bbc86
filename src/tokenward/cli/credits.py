"""`tokenward credits grant|balance`: prepaid credit of an account."""

from __future__ import annotations

from pathlib import Path

import typer

from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.clock import SystemClock
from tokenward.ledger.credits import balances, grant
from tokenward.storage import migrated_store

COLUMNS = ("account_id", "currency", "available", "reserved", "granted", "spent")

AccountOption = typer.Option(..., "--account", help="Account name (or id).")


def register(app: typer.Typer) -> None:
    credits = typer.Typer(
        help="Prepaid credit: grant it, and see what is available, held and spent.",
        no_args_is_help=True,
    )

    @credits.command("grant")
    def grant_(
        account: str = AccountOption,
        amount: str = typer.Option(..., "--amount", help="Decimal amount, e.g. 100.00."),
        currency: str = typer.Option("USD", "--currency", help="ISO 4217 code."),
        memo: str = typer.Option("", "--memo", help="Why (kept in the ledger and audit log)."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Add prepaid credit to an account; prints its new balance."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            result = grant(
                store, account, amount, currency, clock=SystemClock(), actor="cli", memo=memo
            )
        render([result.as_dict()], fmt, COLUMNS)

    @credits.command("balance")
    def balance(
        account: str = AccountOption,
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Credit of an account, per currency (decimal strings)."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            found = balances(store, account)
        render([b.as_dict() for b in found], fmt, COLUMNS)

    app.add_typer(credits, name="credits")


__all__ = ["register"]
