"""Invoices per account, calendar month (UTC) and currency, rebuilt from the database alone.

An invoice reads only `usage_events` and the double-entry ledger, never the config,
so the same database always gives the same invoice (replayed events are no-ops in
both). Lines:

- one per plan fee posted in the period (`plan_fee` transactions);
- one per (model, price version, time-of-day window) of charged usage; its amount
  is the exact sum of the stored event costs, so the invoice total equals the sum
  of its events to the micro (the rounding rule ran once per event, `money.py`);
- the same for usage inside a plan's quota (`billed_to='plan'`), shown as included:
  quantities, list value, amount 0.

Unit prices are the price version's per-million prices with the window multiplier
applied (list prices: a plan multiplier is not recorded per event). Credits applied
are what the account's prepaid credit paid for these charges, from the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from tokenward.billing import ledger_reads
from tokenward.errors import InvalidRequest, NotFound
from tokenward.money import check_currency, format_amount, from_micros
from tokenward.pricing.book import PriceVersion
from tokenward.storage.db import Store
from tokenward.storage.repos import accounts as accounts_repo
from tokenward.storage.repos import usage as usage_repo

#: billed token categories, in display order (as `pricing.book.TOKEN_CATEGORIES`)
CATEGORIES = ("input", "cached_input", "cache_write", "output", "reasoning")
#: a category without a price of its own is billed at this one's (the pricing rule)
_FALLBACK = {"cached_input": "input", "cache_write": "input", "reasoning": "output"}
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

ROUNDING_NOTE = (
    "Each request's cost is computed exactly from the price version in force when it "
    "started and rounded once, half-even, to 0.000001 of the currency; line amounts and "
    "totals are exact sums of those rounded costs."
)

LineKind = Literal["plan_fee", "usage", "included"]


class PriceVersions(Protocol):
    """Where unit prices come from: `tokenward.pricing.PriceCatalog` is one."""

    def version(self, version_id: str) -> PriceVersion: ...


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: a plan fee, charged usage, or usage included in a plan."""

    kind: LineKind
    description: str
    model: str = ""
    price_version: str = ""
    window: str = ""
    requests: int = 0
    #: billed quantity per category (input excludes cached and cache writes, output
    #: excludes reasoning, as rating bills them)
    quantities: Mapping[str, int] | None = None
    #: price per 1M tokens per category after the window multiplier; None: unknown
    unit_prices: Mapping[str, Decimal | None] | None = None
    #: the usage at list price (sum of event costs); the fee for a plan line
    list_value: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: money as decimal strings, quantities as ints."""
        prices = self.unit_prices or {}
        return {
            "kind": self.kind,
            "description": self.description,
            "model": self.model,
            "price_version": self.price_version,
            "window": self.window,
            "requests": self.requests,
            "quantities": dict(self.quantities or {}),
            "unit_prices": {c: _price_text(p) for c, p in prices.items()},
            "list_value": format_amount(self.list_value),
            "amount": format_amount(self.amount),
        }


@dataclass(frozen=True, slots=True)
class Invoice:
    """An account's invoice for one month and one currency; `total` = sum of line amounts."""

    number: str
    account: str
    account_id: str
    period: str
    period_start: date
    period_end: date  # the last day, inclusive
    issue_date: date
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    credits_applied: Decimal
    amount_due: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal

    def as_dict(self) -> dict[str, Any]:
        """The JSON document: every amount a decimal string, never a float."""
        return {
            "invoice_number": self.number,
            "account": self.account,
            "account_id": self.account_id,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "issue_date": self.issue_date.isoformat(),
            "currency": self.currency,
            "lines": [line.as_dict() for line in self.lines],
            "subtotal": format_amount(self.subtotal),
            "credits_applied": format_amount(self.credits_applied),
            "total": format_amount(self.total),
            "amount_due": format_amount(self.amount_due),
            "rounding": ROUNDING_NOTE,
        }


def parse_period(period: str) -> tuple[datetime, datetime]:
    """'YYYY-MM' to its UTC bounds `[first day, first day of the next month)`."""
    match = _PERIOD.fullmatch(period.strip()) if isinstance(period, str) else None
    if match is None:
        raise InvalidRequest(f"period must be a month as YYYY-MM, got {period!r}", param="period")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def build_invoice(
    store: Store,
    account: str,
    period: str,
    *,
    catalog: PriceVersions | None,
    currency: str | None = None,
) -> Invoice:
    """The invoice of `account` (a name) for `period` ('YYYY-MM', UTC) in one currency.

    Without `currency`, the one currency the account has activity in; several are
    an error listing them. Deterministic: the same database gives the same invoice.

    >>> build_invoice(store, "acme", "2026-11", catalog=catalog).as_dict()["total"]
    '12.345678'
    """
    start, end = parse_period(period)
    wanted = None if currency is None else check_currency(currency)
    with store.transaction() as conn:
        found = accounts_repo.get_by_name(conn, account)
    if found is None:
        raise NotFound(f"unknown account {account!r}")
    usage_rows = usage_repo.invoice_usage(store, account_id=found.id, since=start, until=end)
    with store.transaction() as conn:
        currencies = {r["currency"] for r in usage_rows}
        currencies |= ledger_reads.plan_fee_currencies(conn, found.id, start, end)
        chosen = wanted or _only_currency(currencies, account, period)
        fees = [
            f for f in ledger_reads.plan_fees(conn, found.id, start, end) if f.currency == chosen
        ]
        paid = ledger_reads.credits_applied(conn, found.id, chosen, start, end)
    lines = [_fee_line(f) for f in fees]
    lines += [_usage_line(r, catalog) for r in usage_rows if r["currency"] == chosen]
    subtotal = sum((line.amount for line in lines), Decimal(0))
    credits = from_micros(paid)
    last_day = date.fromordinal(end.date().toordinal() - 1)
    return Invoice(
        number=f"TW-{found.name}-{start:%Y%m}-{chosen}",
        account=found.name,
        account_id=found.id,
        period=f"{start:%Y-%m}",
        period_start=start.date(),
        period_end=last_day,
        issue_date=end.date(),
        currency=chosen,
        lines=tuple(lines),
        subtotal=subtotal,
        credits_applied=credits,
        amount_due=subtotal - credits,
    )


def _only_currency(currencies: set[str], account: str, period: str) -> str:
    if len(currencies) == 1:
        return next(iter(currencies))
    if not currencies:
        raise InvalidRequest(
            f"account {account!r} has no billable activity in {period}; "
            "pass a currency to issue an empty invoice",
            param="currency",
        )
    raise InvalidRequest(
        f"account {account!r} has activity in several currencies in {period} "
        f"({', '.join(sorted(currencies))}): choose one with the currency option",
        param="currency",
    )


def _fee_line(fee: ledger_reads.PlanFee) -> InvoiceLine:
    details = fee.details
    plan = str(details.get("plan", ""))
    covered = "–".join(str(details[k])[:10] for k in ("period_start", "period_end") if k in details)
    what = f"Plan {plan}" + (f" ({details['period']})" if details.get("period") else "")
    amount = from_micros(fee.amount)
    return InvoiceLine(
        kind="plan_fee",
        description=f"{what} {covered}".strip(),
        price_version=str(details.get("plan_version", "")),
        requests=0,
        list_value=amount,
        amount=amount,
    )


def _usage_line(row: Mapping[str, Any], catalog: PriceVersions | None) -> InvoiceLine:
    included = bool(row["included"])
    value = from_micros(row["cost_micros"])
    quantities = {
        "input": max(
            0, row["input_tokens"] - row["cached_input_tokens"] - row["cache_write_tokens"]
        ),
        "cached_input": row["cached_input_tokens"],
        "cache_write": row["cache_write_tokens"],
        "output": max(0, row["output_tokens"] - row["reasoning_tokens"]),
        "reasoning": row["reasoning_tokens"],
    }
    window = row["price_window"]
    label = f"{row['model']} ({window})" if window else row["model"]
    return InvoiceLine(
        kind="included" if included else "usage",
        description=f"{label}, included in plan" if included else label,
        model=row["model"],
        price_version=row["price_version"],
        window=window,
        requests=row["requests"],
        quantities=quantities,
        unit_prices=_unit_prices(catalog, row["price_version"], row["model"], window),
        list_value=value,
        amount=from_micros(0) if included else value,
    )


def _unit_prices(
    catalog: PriceVersions | None, version_id: str, model: str, window: str
) -> dict[str, Decimal | None]:
    """Per-1M prices of the version with the window multiplier; None where unknown."""
    unknown: dict[str, Decimal | None] = dict.fromkeys(CATEGORIES)
    if catalog is None or not version_id:
        return unknown
    try:
        version = catalog.version(version_id)
    except NotFound:
        return unknown
    price = version.models.get(model)
    if price is None:
        return unknown
    multiplier = next((w.multiplier for w in version.windows if w.name == window), Decimal(1))
    if not window:
        multiplier = Decimal(1)
    prices: dict[str, Decimal | None] = {}
    for category in CATEGORIES:
        per_million = price.per_million.get(category)
        if per_million is None and category in _FALLBACK:
            per_million = price.per_million.get(_FALLBACK[category])
        prices[category] = None if per_million is None else per_million * multiplier
    return prices


def _price_text(price: Decimal | None) -> str | None:
    """A unit price as a plain decimal string without trailing zeros (at least 2 places)."""
    if price is None:
        return None
    text = f"{price.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


__all__ = [
    "CATEGORIES",
    "ROUNDING_NOTE",
    "Invoice",
    "InvoiceLine",
    "PriceVersions",
    "build_invoice",
    "parse_period",
]
