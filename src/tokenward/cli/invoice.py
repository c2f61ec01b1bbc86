"""`tokenward invoice`: an account's invoice for one month, as JSON, CSV or HTML.

Built from the database alone (usage events, ledger, published prices): the same
database prints the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tokenward.billing import FORMATS, build_invoice, render_invoice
from tokenward.cli.output import ConfigOption, settings_for
from tokenward.cli.usage import usage_error
from tokenward.pricing import load_catalog
from tokenward.storage import migrated_store


def register(app: typer.Typer) -> None:
    @app.command("invoice")
    def invoice(
        account: str = typer.Option(..., "--account", help="Account name."),
        period: str = typer.Option(..., "--period", help="Month, UTC, as YYYY-MM."),
        fmt: str = typer.Option("json", "--format", help="json | csv | html"),
        currency: str | None = typer.Option(
            None, "--currency", help="Needed when the account has activity in several."
        ),
        output: Path | None = typer.Option(
            None, "--output", help="Write to this file instead of stdout."
        ),
        config: Path | None = ConfigOption,
    ) -> None:
        """An account's invoice: plan fees, usage per model and price version, credits."""
        if fmt not in FORMATS:
            raise usage_error(f"choose from {', '.join(FORMATS)}, not {fmt!r}", "--format")
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            built = build_invoice(
                store, account, period, catalog=load_catalog(store), currency=currency
            )
        document = render_invoice(built, fmt)
        if output is None:
            sys.stdout.buffer.write(document)
            sys.stdout.flush()
        else:
            output.write_bytes(document)
            typer.echo(f"Invoice {built.number} written to {output}.", err=True)


__all__ = ["register"]
