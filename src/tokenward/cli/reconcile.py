"""`tokenward reconcile`: the ledger against a provider's usage export, per day and model.

Exit codes: 0 every (day, model) matches, 1 something differs or is missing on one
side, 2 bad arguments or an unreadable export (one line naming the line and column).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import orjson
import typer

from tokenward.billing import reconcile as reconcile_ledger
from tokenward.billing.export_csv import parse_mapping
from tokenward.billing.reconcile import COLUMNS
from tokenward.cli.output import (
    EXIT_FAILED,
    ConfigOption,
    FormatOption,
    OutputFormat,
    render,
    settings_for,
)
from tokenward.cli.usage import parse_utc, usage_error
from tokenward.errors import InvalidRequest
from tokenward.money import parse_amount
from tokenward.storage import migrated_store

#: the table for people: differences only (JSON and CSV carry both sides)
TABLE_COLUMNS = (
    "day",
    "model",
    "status",
    "diff_input",
    "diff_cached_input",
    "diff_cache_write",
    "diff_output",
    "diff_reasoning",
    "ledger_cost",
    "export_cost",
    "currency",
    "note",
)


def register(app: typer.Typer) -> None:
    @app.command("reconcile")
    def reconcile(
        provider: str = typer.Option(..., "--provider", help="Provider name, e.g. openai."),
        file: Path = typer.Option(
            ...,
            "--file",
            help="The provider's usage export: CSV with date, model, input_tokens, "
            "output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, cost, "
            "currency (token columns optional; OpenAI export names are recognised).",
        ),
        since: str | None = typer.Option(None, "--since", help="From this UTC date (inclusive)."),
        until: str | None = typer.Option(None, "--until", help="To this UTC date (exclusive)."),
        maps: list[str] | None = typer.Option(
            None, "--map", help="COLUMN=FIELD for a column with another name; repeatable."
        ),
        tolerance: str = typer.Option(
            "0", "--cost-tolerance", help="Largest cost difference still a match."
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Compare tokens and cost per UTC day and model; exit 1 if anything differs."""
        start, end = parse_utc(since), parse_utc(until)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise usage_error(f"cannot read {str(file)!r}: {exc}", "--file") from None
        try:
            mapping = parse_mapping(maps or [])
            limit = parse_amount(tolerance, "cost-tolerance")
        except InvalidRequest as exc:
            raise usage_error(exc.message) from None
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            try:
                report = reconcile_ledger(
                    store,
                    provider,
                    text,
                    since=start,
                    until=end,
                    mapping=mapping,
                    cost_tolerance=Decimal(limit),
                )
            except InvalidRequest as exc:
                raise usage_error(exc.message, f"--{exc.param}" if exc.param else None) from None
        if fmt is OutputFormat.json:
            sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
        else:
            columns = COLUMNS if fmt is OutputFormat.csv else TABLE_COLUMNS
            render(report.rows, fmt, columns)
            if fmt is OutputFormat.table:
                counts = ", ".join(f"{n} {status}" for status, n in report.summary.items() if n)
                typer.echo(counts or "nothing to compare")
        if not report.ok:
            raise typer.Exit(EXIT_FAILED)


__all__ = ["register"]
