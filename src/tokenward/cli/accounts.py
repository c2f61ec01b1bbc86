"""`tokenward accounts create|list|show`: who is billed."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from tokenward.auth import service
from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.clock import SystemClock
from tokenward.storage import migrated_store

COLUMNS = ("id", "name", "billing_mode", "created_at")


class Billing(StrEnum):
    postpaid = "postpaid"
    prepaid = "prepaid"


def register(app: typer.Typer) -> None:
    accounts = typer.Typer(help="Accounts: who is billed.", no_args_is_help=True)

    @accounts.command("create")
    def create(
        name: str = typer.Argument(..., help="Account name: letters, digits, '.', '_', '-'."),
        billing: Billing = typer.Option(Billing.postpaid, "--billing", help="postpaid | prepaid"),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Create an account."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            info = service.create_account(store, name, billing.value, clock=SystemClock())
        render([info.as_dict()], fmt, COLUMNS)

    @accounts.command("list")
    def list_(
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List every account."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            infos = service.list_accounts(store)
        render([i.as_dict() for i in infos], fmt, COLUMNS)

    @accounts.command("show")
    def show(
        name: str = typer.Argument(..., help="Account name."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Show one account."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            info = service.get_account(store, name)
        render([info.as_dict()], fmt, COLUMNS)

    app.add_typer(accounts, name="accounts")


__all__ = ["register"]
