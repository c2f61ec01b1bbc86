"""`tokenward usage`: token and cost sums from the ledger, grouped by model, day, hour,
key, account (one row per currency where a group was priced in several)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from tokenward.audit.admin import guard_decisions
from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.clock import SystemClock
from tokenward.ledger.reports import (
    GROUP_KEYS,
    METRICS,
    MONEY_COLUMNS,
    normalize_group_keys,
    usage_report,
)
from tokenward.money import format_amount
from tokenward.storage import migrated_store


def parse_utc(value: str | None) -> datetime | None:
    """An ISO date or date-time as an aware UTC datetime; naive input is taken as UTC.

    A bare date means 00:00 UTC of that day. Bad input is a usage error (exit 2).
    """
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise usage_error(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-05-01 or 2026-05-01T12:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _group_keys(values: list[str] | None) -> list[str]:
    try:
        return normalize_group_keys(values or [])
    except ValueError as exc:  # InvalidRequest is a ValueError
        raise usage_error(str(exc), "--by") from None


def usage_error(message: str, option: str | None = None) -> typer.BadParameter:
    """A usage error: typer prints it with the usage line and exits with 2."""
    return typer.BadParameter(message, param_hint=option)


def register(app: typer.Typer) -> None:
    @app.command("usage")
    def usage(
        account: str | None = typer.Option(None, "--account", help="Only this account."),
        since: str | None = typer.Option(
            None, "--since", help="From this UTC date/time (inclusive), e.g. 2026-05-01."
        ),
        until: str | None = typer.Option(
            None, "--until", help="Up to this UTC date/time (exclusive)."
        ),
        by: list[str] | None = typer.Option(
            None,
            "--by",
            help=f"Group by {'|'.join(GROUP_KEYS)}; repeat or comma-separate. "
            "Without it: one row of totals.",
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Token usage from the ledger (requests, tokens per category, cost and currency)."""
        groups = _group_keys(by)
        start, end = parse_utc(since), parse_utc(until)
        if start is not None and end is not None and start >= end:
            raise usage_error("must be before --until", "--since")
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            rows = usage_report(store, account, start, end, groups)
            columns = [*groups, *METRICS, *MONEY_COLUMNS]
            if groups == ["account"] or (account is not None and not groups):
                # guard decisions per account, from the audit log
                rows = _with_guard(rows, guard_decisions(store, SystemClock(), start, end), account)
                columns += list(GUARD_COLUMNS)
        render(rows, fmt, columns)


GUARD_COLUMNS = ("guard_blocked", "guard_redacted")


def _with_guard(
    rows: list[dict[str, Any]], decisions: dict[str, dict[str, int]], account: str | None
) -> list[dict[str, Any]]:
    zero = dict.fromkeys(GUARD_COLUMNS, 0)
    merged = []
    seen: set[str] = set()
    for row in rows:
        name = str(row.get("account", account))
        # an account split by currency shows its guard tallies once, on its first row
        merged.append({**row, **(zero if name in seen else decisions.get(name, zero))})
        seen.add(name)
    for name, tally in sorted(decisions.items()):
        if name not in seen and (account is None or name == account):
            empty = {**dict.fromkeys(METRICS, 0), "cost": format_amount(Decimal(0)), "currency": ""}
            merged.append(
                {"account": name, **empty, **tally} if account is None else {**empty, **tally}
            )
    return merged


__all__ = ["parse_utc", "register", "usage_error"]
