"""`tokenward prices import|export|list`: versioned price books as TOML, JSON or CSV.

The shipped default book is loaded into a database with no books by the first
`list`, `export` or gateway start; import your own books before that to replace it,
or publish new versions of its books (same name) to change its prices.
Published versions are immutable; importing a document whose versions already exist
identically changes nothing. Running gateways see new versions within a second.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import typer

from tokenward.cli.output import (
    CliFailure,
    ConfigOption,
    FormatOption,
    OutputFormat,
    render,
    settings_for,
)
from tokenward.clock import SystemClock
from tokenward.pricing import (
    PriceVersion,
    check_format,
    export_text,
    format_of_path,
    import_text,
    list_in_force,
    version_dict,
)
from tokenward.pricing.book import TOKEN_CATEGORIES, iso_utc
from tokenward.pricing.document import decimal_text, parse_time
from tokenward.pricing.service import ensure_default_book
from tokenward.storage import migrated_store

COLUMNS = ("version", "model", *TOKEN_CATEGORIES, "units", "windows", "source")
BookOption = typer.Option(None, "--book", help="Only this price book.")


def rows_of(versions: tuple[PriceVersion, ...]) -> list[dict[str, Any]]:
    """One flat row per (version, model), for tables and CSV."""
    rows = []
    for version in versions:
        windows = ", ".join(
            f"{w.name} {w.window.describe()} x{decimal_text(w.multiplier)}" for w in version.windows
        )
        for name in sorted(version.models):
            price = version.models[name]
            row: dict[str, Any] = {
                "version": version.id,
                "currency": version.currency,
                "model": name,
                "units": " ".join(f"{u}={decimal_text(p)}" for u, p in sorted(price.units.items())),
                "windows": windows,
                "source": price.source,
            }
            for category in TOKEN_CATEGORIES:
                value = price.per_million.get(category)
                row[category] = "" if value is None else decimal_text(value)
            rows.append(row)
    return rows


def register(app: typer.Typer) -> None:
    prices = typer.Typer(
        help="Price books: versioned, immutable prices per 1M tokens.", no_args_is_help=True
    )

    @prices.command("import")
    def import_(
        file: Path = typer.Argument(..., help="A .toml, .json or .csv price document."),
        fmt: str | None = typer.Option(
            None, "--format", help="toml | json | csv (default: from the file's extension)"
        ),
        config: Path | None = ConfigOption,
    ) -> None:
        """Publish the new versions of a price document (existing identical ones are kept)."""
        chosen = check_format(fmt) if fmt else format_of_path(file.name)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CliFailure(f"cannot read {file}: {exc.strerror}") from None
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            result = import_text(store, data, chosen, clock=SystemClock())
        for version in result.created:
            typer.echo(f"published {version.id} ({len(version.models)} models)")
        if result.unchanged:
            typer.echo(f"unchanged: {', '.join(result.unchanged)}")
        if not result.created and not result.unchanged:  # pragma: no cover - parse refuses
            typer.echo("nothing to import")

    @prices.command("export")
    def export(
        book: str | None = BookOption,
        fmt: str = typer.Option("toml", "--format", help="toml | json | csv"),
        output: Path | None = typer.Option(None, "--output", help="Write here, not stdout."),
        config: Path | None = ConfigOption,
    ) -> None:
        """Every published version as a document that imports back identically."""
        chosen = check_format(fmt)
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            ensure_default_book(store, SystemClock())  # what a gateway would price with
            text = export_text(store, chosen, book)
        if output is None:
            sys.stdout.write(text)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliFailure(f"cannot write {output}: {exc.strerror}") from None
        typer.echo(f"wrote {output}")

    @prices.command("list")
    def list_(
        book: str | None = BookOption,
        at: str | None = typer.Option(
            None, "--at", help="ISO time (default now): the versions in force then."
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """The version of each book in force now (or --at), with its model prices."""
        when: datetime = parse_time(at, "at") if at else SystemClock().now()
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            ensure_default_book(store, SystemClock())  # what a gateway would price with
            versions = list_in_force(store, when, book)
        if fmt is OutputFormat.json:
            sys.stdout.write(orjson.dumps([version_dict(v) for v in versions]).decode() + "\n")
            return
        if fmt is OutputFormat.table:
            typer.echo(f"versions in force at {iso_utc(when)}")
        render(rows_of(versions), fmt, COLUMNS)

    app.add_typer(prices, name="prices")


__all__ = ["register"]
