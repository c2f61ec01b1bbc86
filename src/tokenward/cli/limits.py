"""`tokenward limits set|list|delete`: rate and concurrency limits per key, account,
plan or model. Running gateways apply a change within a second."""

from __future__ import annotations

from pathlib import Path

import typer

from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.clock import SystemClock
from tokenward.limits import delete_limits, list_limits, model_index, set_limits
from tokenward.storage import migrated_store

COLUMNS = ("scope", "target", "model", "rpm", "tpm", "tpd", "concurrency", "updated_at")

KeyOption = typer.Option(None, "--key", help="Key id (key_...).")
AccountOption = typer.Option(None, "--account", help="Account name.")
PlanOption = typer.Option(None, "--plan", help="Plan name.")
ModelOption = typer.Option(
    None, "--model", help="Only on this model; alone, a limit on all of the model's traffic."
)


def register(app: typer.Typer) -> None:
    limits = typer.Typer(
        help="Limits: requests/min, tokens/min, tokens/day, concurrency.", no_args_is_help=True
    )

    @limits.command("set")
    def set_(
        key: str | None = KeyOption,
        account: str | None = AccountOption,
        plan: str | None = PlanOption,
        model: str | None = ModelOption,
        rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute."),
        tpm: int | None = typer.Option(None, "--tpm", help="Tokens per minute."),
        tpd: int | None = typer.Option(None, "--tpd", help="Tokens per day."),
        concurrency: int | None = typer.Option(
            None, "--concurrency", help="Requests in flight at once."
        ),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Set limits of one key, account, plan or model (limits not given are kept)."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            rule = set_limits(
                store,
                key=key,
                account=account,
                plan=plan,
                model=model,
                rpm=rpm,
                tpm=tpm,
                tpd=tpd,
                concurrency=concurrency,
                models=model_index(settings.models),
                clock=SystemClock(),
            )
        render([rule.as_dict()], fmt, COLUMNS)

    @limits.command("list")
    def list_(
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List every limit rule."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            rules = list_limits(store)
        render([r.as_dict() for r in rules], fmt, COLUMNS)

    @limits.command("delete")
    def delete(
        key: str | None = KeyOption,
        account: str | None = AccountOption,
        plan: str | None = PlanOption,
        model: str | None = ModelOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Lift every limit of one key, account, plan or model."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            delete_limits(
                store,
                key=key,
                account=account,
                plan=plan,
                model=model,
                models=model_index(settings.models),
            )
        typer.echo("Limits deleted.")

    app.add_typer(limits, name="limits")


__all__ = ["register"]
