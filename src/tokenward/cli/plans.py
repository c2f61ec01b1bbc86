"""`tokenward plans ...`: the plan catalogue, subscriptions and waitlists.

A plan comes from flags, from `--file plan.toml` (the same fields as the admin
API's JSON: `price`, `periods`, `quotas`, `weights`...), or both: a flag overrides
the file's field. Repeated flags build lists; each replaces its whole field, on
`reprice` too (fields not given are kept from the version in force).

    tokenward plans create pro --currency USD --price 20 \\
        --period-discount quarter=10 --period-discount year=20 \\
        --quota 5h:requests:100 --quota week:tokens:2000000:session \\
        --weight 'gpt-4o*=3' --peak '14:00-18:00@Asia/Shanghai=3:glm-*'
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from tokenward.cli.output import ConfigOption, FormatOption, OutputFormat, render, settings_for
from tokenward.clock import SystemClock
from tokenward.errors import InvalidRequest
from tokenward.plans import (
    PlanInfo,
    Subscription,
    cancel,
    create_plan,
    get_plan,
    list_plans,
    promote_waitlist,
    renew_due,
    reprice_plan,
    subscribe,
    waitlist,
)
from tokenward.storage import migrated_store

PLAN_COLUMNS = (
    "name",
    "version",
    "currency",
    "price",
    "periods",
    "first_purchase_discount",
    "tier",
    "quotas",
    "seats",
    "waitlisted",
    "effective_from",
)
SUB_COLUMNS = (
    "account",
    "plan",
    "status",
    "position",
    "period",
    "price",
    "currency",
    "plan_version",
    "period_start",
    "period_end",
    "note",
)

FileOption = typer.Option(None, "--file", help="Plan definition (TOML); flags override it.")
PriceOption = typer.Option(None, "--price", help="Price per month, e.g. 20.00.")
PeriodDiscountOption = typer.Option(
    None, "--period-discount", help="PERIOD=PERCENT, e.g. quarter=10 (month is always sold)."
)
FirstOption = typer.Option(
    None, "--first-purchase-discount", help="Percent off an account's first subscription."
)
QuotaOption = typer.Option(
    None, "--quota", help="WINDOW:UNIT:LIMIT[:session], e.g. 5h:requests:100, week:tokens:2e6."
)
WeightOption = typer.Option(None, "--weight", help="GLOB=WEIGHT, e.g. 'gpt-4o*=3'.")
PeakOption = typer.Option(
    None, "--peak", help="HH:MM-HH:MM@ZONE=MULTIPLIER[:GLOB,...], e.g. 14:00-18:00@UTC=2."
)
ModelsOption = typer.Option(None, "--models", help="Allowed model glob (repeat; none = all).")
ConcurrencyOption = typer.Option(None, "--concurrency", help="Requests in flight per subscriber.")
OverageOption = typer.Option(None, "--overage", help="block | credits (pay as you go).")
MultiplierOption = typer.Option(
    None, "--price-multiplier", help="Multiplier on pay-as-you-go overage prices."
)
MaxOption = typer.Option(None, "--max-subscribers", help="Seats; then a waitlist (0 = no cap).")
CapOption = typer.Option(
    None, "--daily-sales-cap", help="New subscriptions per UTC day (0 = no cap)."
)
TierOption = typer.Option(None, "--tier", help="Priority tier name, e.g. gold.")
GrandfatherOption = typer.Option(
    None, "--grandfather", help="period_end | forever | none: what repricing does to subscribers."
)
AccountOption = typer.Option(..., "--account", help="Account name.")


def _pairs(values: list[str] | None, flag: str) -> dict[str, str] | None:
    if not values:
        return None
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.rpartition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"{flag} expects KEY=VALUE, got {value!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


def _quota(spec: str) -> dict[str, Any]:
    parts = spec.split(":")
    if len(parts) not in (3, 4) or not parts[2].isdigit():
        raise InvalidRequest(f"--quota expects WINDOW:UNIT:LIMIT[:session], got {spec!r}")
    window: str | int = int(parts[0]) if parts[0].isdigit() else parts[0]
    quota: dict[str, Any] = {"window": window, "unit": parts[1], "limit": int(parts[2])}
    if len(parts) == 4:
        quota["kind"] = parts[3]
    return quota


def _peak(spec: str) -> dict[str, Any]:
    window, sep, rest = spec.partition("=")
    span, at, zone = window.partition("@")
    start, dash, end = span.partition("-")
    if not (sep and at and dash):
        raise InvalidRequest(f"--peak expects HH:MM-HH:MM@ZONE=MULTIPLIER[:GLOB,...], got {spec!r}")
    multiplier, _, globs = rest.partition(":")
    models = [g.strip() for g in globs.split(",") if g.strip()]
    return {
        "start": start,
        "end": end,
        "timezone": zone,
        "multiplier": multiplier,
        "models": models,
    }


def _definition(file: Path | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The file's fields, overridden by the flags that were given."""
    definition: dict[str, Any] = {}
    if file is not None:
        try:
            definition = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidRequest(f"cannot read plan file {file}: {exc}") from None
    periods = _pairs(flags.pop("period_discount"), "--period-discount")
    if periods is not None:
        definition["periods"] = {"month": "0", **periods}
    weights = _pairs(flags.pop("weight"), "--weight")
    peaks = flags.pop("peak")
    if weights is not None or peaks:
        definition["weights"] = {"models": weights or {}, "times": [_peak(p) for p in peaks or []]}
    quotas = flags.pop("quota")
    if quotas:
        definition["quotas"] = [_quota(q) for q in quotas]
    definition.update({k: v for k, v in flags.items() if v not in (None, [])})
    return definition


def _plan_rows(infos: list[PlanInfo], fmt: OutputFormat, history: bool = False) -> list[Any]:
    rows = [info.as_dict(history=history) for info in infos]
    if fmt is OutputFormat.json:
        return rows
    for row in rows:  # one line per field, for people
        row["periods"] = ", ".join(f"{k} -{v}%" for k, v in row["periods"].items())
        row["quotas"] = "; ".join(row["quotas"]) or "-"
        row["version"] = f"v{row['version']}"
    return rows


def _sub_rows(subs: list[Subscription] | tuple[Subscription, ...]) -> list[dict[str, Any]]:
    return [s.as_dict() for s in subs]


def _effective(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"--effective must be an ISO 8601 time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidRequest("--effective must carry a time zone (e.g. Z)")
    return parsed


def register(app: typer.Typer) -> None:
    plans = typer.Typer(help="Plans: prices, quotas, seats, subscriptions.", no_args_is_help=True)

    @plans.command("create")
    def create(
        name: str = typer.Argument(..., help="Plan name."),
        currency: str | None = typer.Option(None, "--currency", help="ISO 4217, e.g. USD."),
        price: str | None = PriceOption,
        period_discount: list[str] | None = PeriodDiscountOption,
        first_purchase_discount: str | None = FirstOption,
        quota: list[str] | None = QuotaOption,
        weight: list[str] | None = WeightOption,
        peak: list[str] | None = PeakOption,
        models: list[str] | None = ModelsOption,
        concurrency: int | None = ConcurrencyOption,
        overage: str | None = OverageOption,
        price_multiplier: str | None = MultiplierOption,
        max_subscribers: int | None = MaxOption,
        daily_sales_cap: int | None = CapOption,
        tier: str | None = TierOption,
        grandfather: str | None = GrandfatherOption,
        file: Path | None = FileOption,
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Create a plan (version 1, on sale now)."""
        flags = dict(locals())  # the parameters: each term flag is named as its field
        for local in ("name", "file", "fmt", "config"):
            flags.pop(local)
        definition = {**_definition(file, flags), "name": name}
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            info = create_plan(store, definition, clock=SystemClock())
        render(_plan_rows([info], fmt), fmt, PLAN_COLUMNS)

    @plans.command("reprice")
    def reprice(
        name: str = typer.Argument(..., help="Plan name."),
        price: str | None = PriceOption,
        effective: str | None = typer.Option(
            None, "--effective", help="ISO 8601 instant the new version starts (default now)."
        ),
        period_discount: list[str] | None = PeriodDiscountOption,
        first_purchase_discount: str | None = FirstOption,
        quota: list[str] | None = QuotaOption,
        weight: list[str] | None = WeightOption,
        peak: list[str] | None = PeakOption,
        models: list[str] | None = ModelsOption,
        concurrency: int | None = ConcurrencyOption,
        overage: str | None = OverageOption,
        price_multiplier: str | None = MultiplierOption,
        max_subscribers: int | None = MaxOption,
        daily_sales_cap: int | None = CapOption,
        tier: str | None = TierOption,
        grandfather: str | None = GrandfatherOption,
        file: Path | None = FileOption,
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Add a version of a plan: the terms in force, with the changes given."""
        flags = dict(locals())  # the parameters: each term flag is named as its field
        for local in ("name", "effective", "file", "fmt", "config"):
            flags.pop(local)
        changes = _definition(file, flags)
        start = _effective(effective)
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            info = reprice_plan(store, name, changes, effective_from=start, clock=SystemClock())
        render(_plan_rows([info], fmt), fmt, PLAN_COLUMNS)

    @plans.command("list")
    def list_(fmt: OutputFormat = FormatOption, config: Path | None = ConfigOption) -> None:
        """Every plan, with the version in force and its seats."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            infos = list_plans(store, clock=SystemClock())
        render(_plan_rows(infos, fmt), fmt, PLAN_COLUMNS)

    @plans.command("show")
    def show(
        name: str = typer.Argument(..., help="Plan name."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """One plan in full, with its version history (JSON) or in force (table)."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            info = get_plan(store, name, clock=SystemClock())
        rows = _plan_rows([info], fmt, history=True)
        if fmt is OutputFormat.json:
            render(rows, fmt, PLAN_COLUMNS)
            return
        render([{"field": k, "value": v} for k, v in rows[0].items()], fmt, ("field", "value"))

    @plans.command("subscribe")
    def subscribe_(
        account: str = AccountOption,
        plan: str = typer.Option(..., "--plan", help="Plan name."),
        period: str = typer.Option("month", "--period", help="month | quarter | year"),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """Subscribe an account: active and charged, or waitlisted when the plan is full."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            sub = subscribe(store, account, plan, period, clock=SystemClock())
        render(_sub_rows([sub]), fmt, SUB_COLUMNS)

    @plans.command("cancel")
    def cancel_(
        account: str = AccountOption,
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """End an account's subscription now (no refund); waiters take the seat."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            done = cancel(store, account, clock=SystemClock())
        render(_sub_rows([done.canceled, *done.promoted]), fmt, SUB_COLUMNS)

    @plans.command("waitlist")
    def waitlist_(
        name: str = typer.Argument(..., help="Plan name."),
        fmt: OutputFormat = FormatOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """A plan's waitlist, in order."""
        settings = settings_for(config)
        with migrated_store(settings.database) as store:
            subs = waitlist(store, name)
        render(_sub_rows(subs), fmt, SUB_COLUMNS)

    @plans.command("renew")
    def renew(fmt: OutputFormat = FormatOption, config: Path | None = ConfigOption) -> None:
        """Renew subscriptions whose period ended, then let waiters in (run it on a timer)."""
        settings = settings_for(config)
        clock = SystemClock()
        with migrated_store(settings.database) as store:
            changed = [*renew_due(store, clock), *promote_waitlist(store, clock)]
        render(_sub_rows(changed), fmt, SUB_COLUMNS)

    app.add_typer(plans, name="plans")


__all__ = ["register"]
