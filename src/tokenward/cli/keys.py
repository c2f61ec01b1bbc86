"""`tokenward keys create|list|revoke`: API keys, stored hashed, shown once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import orjson
import typer

from tokenward.auth import service
from tokenward.auth.tiers import check_tier
from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.cli.usage import parse_utc
from tokenward.clock import SystemClock
from tokenward.limits import set_limits, validate_limits
from tokenward.storage import migrated_store

COLUMNS = ("id", "account", "name", "prefix", "role", "tier", "status", "created_at", "expires_at")


class KeyRole(StrEnum):
    user = "user"
    admin = "admin"


def register(app: typer.Typer) -> None:
    keys = typer.Typer(
        help="API keys (stored hashed; the key is shown once).", no_args_is_help=True
    )

    @keys.command("create")
    def create(
        account: str = typer.Option(..., "--account", help="Account the key bills to."),
        name: str = typer.Option("default", "--name", help="A label for people."),
        expires: str | None = typer.Option(
            None, "--expires", help="UTC expiry: ISO date (00:00 that day) or date-time."
        ),
        role: KeyRole = typer.Option(KeyRole.user, "--role", help="user | admin"),
        rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute."),
        tpm: int | None = typer.Option(None, "--tpm", help="Tokens per minute."),
        concurrency: int | None = typer.Option(
            None, "--concurrency", help="Requests in flight at once."
        ),
        tier: str = typer.Option(
            "", "--tier", help="Capacity-pool priority tier, one of [limits] tiers."
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Create a key and print it once."""
        expires_at = parse_utc(expires)
        limited = any(v is not None for v in (rpm, tpm, concurrency))
        if limited:  # checked first, so bad limits never leave a key behind
            validate_limits(rpm=rpm, tpm=tpm, concurrency=concurrency)
        settings = settings_for(config)
        check_tier(tier, settings.limits.tiers)
        clock = SystemClock()
        with migrated_store(settings.database) as store:
            info, plaintext = service.create_key(
                store,
                account,
                name,
                expires_at,
                role.value,
                clock=clock,
                tier=tier,
                tiers=settings.limits.tiers,
            )
            if limited:
                set_limits(
                    store, key=info.id, rpm=rpm, tpm=tpm, concurrency=concurrency, clock=clock
                )
        limits = {"rpm": rpm, "tpm": tpm, "concurrency": concurrency}
        if fmt is OutputFormat.table:
            typer.echo(f"Created key {info.id} ({info.name}) for account {info.account_name}:")
            typer.echo(f"  {plaintext}")
            typer.echo("Store it now: it is not shown again.")
            if info.tier:
                typer.echo(f"Tier: {info.tier}")
            if limited:
                typer.echo("Limits: " + ", ".join(f"{k} {v}" for k, v in limits.items() if v))
            return
        row = {
            "id": info.id,
            "key": plaintext,
            "prefix": info.prefix,
            "account": info.account_name,
            "name": info.name,
            "role": info.role,
            "tier": info.tier,
            "expires_at": info.expires_at,
            **(limits if limited else {}),
        }
        if fmt is OutputFormat.csv:
            render([row], fmt, list(row))
        else:  # one JSON object, not an array: this command makes exactly one key
            typer.echo(orjson.dumps(row, default=str).decode())

    @keys.command("list")
    def list_(
        account: str | None = typer.Option(None, "--account", help="Only this account."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List keys (prefixes only, never the keys)."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            infos = service.list_keys(store, account)
        now = SystemClock().now()
        render([i.as_dict(now) for i in infos], fmt, COLUMNS)

    @keys.command("revoke")
    def revoke(
        key: str = typer.Argument(..., help="Key id (key_...) or display prefix (tw-...)."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Revoke a key; gateways refuse it within a second."""
        settings = settings_for(config)
        clock = SystemClock()
        with migrated_store(settings.database) as store:
            info = service.revoke_key(store, key, clock=clock)
        if fmt is OutputFormat.table:
            typer.echo(f"Revoked key {info.id} ({info.prefix}...) of account {info.account_name}")
        else:
            render([info.as_dict(clock.now())], fmt, [*COLUMNS, "revoked_at"])

    app.add_typer(keys, name="keys")


__all__ = ["register"]
