"""`tokenward audit verify|list`: check the hash chain, and read the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer

from tokenward.audit import AuditLog, AuditRecord
from tokenward.cli.output import (
    CliFailure,
    ConfigOption,
    FormatOption,
    OutputFormat,
    render,
    settings_for,
)
from tokenward.clock import SystemClock
from tokenward.storage import migrated_store

VERIFY_COLUMNS = ("ok", "checked", "first_bad", "first_bad_id", "problem", "head_seq", "head_hash")
LIST_COLUMNS = ("seq", "at", "actor", "action", "target", "details", "hash")
#: hex digits of a hash shown in a table; JSON and CSV get the whole hash
_SHORT_HASH = 16


def register(app: typer.Typer) -> None:
    audit = typer.Typer(
        help="Audit log: append-only, hash-chained record of admin actions and guard decisions.",
        no_args_is_help=True,
    )

    @audit.command("verify")
    def verify(
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Check the hash chain; exit 1 naming the first broken record."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            result = AuditLog(store, SystemClock()).verify()
        render([result.as_dict()], fmt, VERIFY_COLUMNS)
        if not result.ok:
            raise CliFailure(result.describe())

    @audit.command("list")
    def list_(
        limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Records to show."),
        after: int | None = typer.Option(
            None, "--after", min=0, help="Show records after this seq (default: the newest)."
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List records, oldest first: the newest N, or N after a given seq."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            log = AuditLog(store, SystemClock())
            records = log.tail(limit) if after is None else log.records(limit, after)
        render([_row(r, fmt) for r in records], fmt, LIST_COLUMNS)

    app.add_typer(audit, name="audit")


def _row(record: AuditRecord, fmt: OutputFormat) -> dict[str, Any]:
    row = record.as_dict()
    if fmt is not OutputFormat.json:  # flat cells for tables and CSV
        row["details"] = orjson.dumps(row["details"], option=orjson.OPT_SORT_KEYS).decode()
    if fmt is OutputFormat.table:
        row["hash"] = row["hash"][:_SHORT_HASH]
    return row


__all__ = ["register"]
