"""Reconciliation: the ledger against a provider's usage export, per UTC day and model.

The ledger side is every usage event sent to the provider (deployment
"<provider>/<upstream model>"), grouped by the UTC day the request started and the
upstream model. Each (day, model) gets a status:

- `match`: every token column the export has equals the ledger's, and the cost too
  (within `cost_tolerance`, same currency) when the export has one;
- `mismatch`: a difference (see the `diff_*` columns and `note`);
- `missing_in_ledger` / `missing_in_export`: only one side has the row.

Without `since` / `until`, the ledger is read over the export's days. A report is
`ok` when every row matches (the CLI exits 1 otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from tokenward.billing.export_csv import TOKEN_FIELDS, ExportTotals, parse_export
from tokenward.errors import InvalidRequest
from tokenward.money import format_amount, from_micros
from tokenward.storage.db import Store
from tokenward.storage.repos import usage as usage_repo

Status = Literal["match", "mismatch", "missing_in_ledger", "missing_in_export"]
STATUSES: tuple[Status, ...] = ("match", "mismatch", "missing_in_ledger", "missing_in_export")
#: short names of the token categories in report columns
SHORT = {
    "input_tokens": "input",
    "cached_input_tokens": "cached_input",
    "cache_write_tokens": "cache_write",
    "output_tokens": "output",
    "reasoning_tokens": "reasoning",
}
COLUMNS: tuple[str, ...] = (
    "day",
    "model",
    "status",
    *(f"{side}_{SHORT[f]}" for f in TOKEN_FIELDS for side in ("ledger", "export", "diff")),
    "ledger_cost",
    "export_cost",
    "diff_cost",
    "currency",
    "note",
)


@dataclass(slots=True)
class LedgerTotals:
    """The ledger's totals for one (day, model): tokens, and cost per currency."""

    requests: int
    tokens: dict[str, int]
    costs: dict[str, Decimal]  # currency -> cost of the priced events


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The report: one row per (day, model), ordered; `summary` counts per status."""

    provider: str
    rows: tuple[dict[str, Any], ...]

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row["status"]] += 1
        return counts

    @property
    def ok(self) -> bool:
        return all(row["status"] == "match" for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "ok": self.ok,
            "summary": self.summary,
            "rows": list(self.rows),
        }


def reconcile(
    store: Store,
    provider: str,
    export_text: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    mapping: Mapping[str, str] | None = None,
    cost_tolerance: Decimal = Decimal(0),
) -> Reconciliation:
    """Compare the ledger with `export_text` (a CSV, see `billing.export_csv`).

    `since` is inclusive and `until` exclusive (UTC); both also filter the export.
    """
    if not provider or "/" in provider:
        raise InvalidRequest("provider must be a provider name such as 'openai'", param="provider")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("since must be before until", param="since")
    if cost_tolerance < 0:
        raise InvalidRequest("the cost tolerance must not be negative", param="cost_tolerance")
    export = parse_export(export_text, mapping)
    export = {k: v for k, v in export.items() if _in_range(k[0], since, until)}
    if since is None and until is None and export:
        days = sorted(day for day, _ in export)
        since = datetime.fromisoformat(days[0]).replace(tzinfo=UTC)
        until = datetime.fromisoformat(days[-1]).replace(tzinfo=UTC) + timedelta(days=1)
    ledger = _ledger(store, provider, since, until) if export or since or until else {}
    rows = [
        _compare(day, model, ledger.get((day, model)), export.get((day, model)), cost_tolerance)
        for day, model in sorted(set(ledger) | set(export))
    ]
    return Reconciliation(provider=provider, rows=tuple(rows))


def _in_range(day: str, since: datetime | None, until: datetime | None) -> bool:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return (
        since is None or start >= since.replace(hour=0, minute=0, second=0, microsecond=0)
    ) and (until is None or start < until)


def _ledger(
    store: Store, provider: str, since: datetime | None, until: datetime | None
) -> dict[tuple[str, str], LedgerTotals]:
    totals: dict[tuple[str, str], LedgerTotals] = {}
    for row in usage_repo.provider_usage(store, provider=provider, since=since, until=until):
        model = row["deployment"].split("/", 1)[1]
        entry = totals.setdefault(
            (row["day"], model), LedgerTotals(0, dict.fromkeys(TOKEN_FIELDS, 0), {})
        )
        entry.requests += row["requests"]
        for name in TOKEN_FIELDS:
            entry.tokens[name] += row[name]
        if row["priced"]:
            cost = from_micros(row["cost_micros"])
            entry.costs[row["currency"]] = entry.costs.get(row["currency"], Decimal(0)) + cost
    return totals


def _compare(
    day: str,
    model: str,
    ledger: LedgerTotals | None,
    export: ExportTotals | None,
    tolerance: Decimal,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(day=day, model=model, note="")
    notes: list[str] = []
    for name in TOKEN_FIELDS:
        short = SHORT[name]
        mine = None if ledger is None else ledger.tokens[name]
        theirs = None if export is None else export.tokens[name]
        row[f"ledger_{short}"], row[f"export_{short}"] = mine, theirs
        if mine is not None and theirs is not None:
            row[f"diff_{short}"] = mine - theirs
            if mine != theirs:
                notes.append(f"{short} differs")
    costs = {} if ledger is None else ledger.costs
    if len(costs) == 1:
        [(currency, cost)] = costs.items()
        row["ledger_cost"], row["currency"] = format_amount(cost), currency
    elif costs:
        notes.append(f"ledger priced in several currencies ({', '.join(sorted(costs))})")
    if export is not None and export.cost is not None:
        row["export_cost"] = format_amount(export.cost)
        row["currency"] = row["currency"] or export.currency
        notes += _cost_notes(row, costs, export, tolerance)
    if ledger is None:
        row["status"] = "missing_in_ledger"
    elif export is None:
        row["status"] = "missing_in_export"
    else:
        row["status"] = "mismatch" if notes else "match"
    row["note"] = "; ".join(notes)
    return row


def _cost_notes(
    row: dict[str, Any], costs: dict[str, Decimal], export: ExportTotals, tolerance: Decimal
) -> list[str]:
    """Why the costs disagree (none if they agree); fills `diff_cost` when comparable."""
    if export.cost is None or len(costs) > 1:
        return []
    if not costs:
        return ["the ledger has no cost for these events"]
    [(currency, cost)] = costs.items()
    if export.currency and export.currency != currency:
        return [f"currency differs (ledger {currency}, export {export.currency})"]
    diff = cost - export.cost
    row["diff_cost"] = format_amount(diff)
    return [] if abs(diff) <= tolerance else ["cost differs"]


__all__ = ["COLUMNS", "STATUSES", "LedgerTotals", "Reconciliation", "Status", "reconcile"]
