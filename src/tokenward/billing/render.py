"""An invoice as JSON, CSV or a self-contained printable HTML page.

Every renderer is a pure function of the `Invoice`: the same invoice gives the same
bytes. Amounts are decimal strings; everything that came from a user (account
names, model names, plan names) is escaped with `html.escape` in HTML.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape

import orjson

from tokenward.billing.invoices import CATEGORIES, ROUNDING_NOTE, Invoice, InvoiceLine
from tokenward.money import format_amount

FORMATS = ("json", "csv", "html")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}

CSV_COLUMNS = (
    "kind",
    "description",
    "model",
    "price_version",
    "window",
    "requests",
    *(f"{c}_quantity" for c in CATEGORIES),
    *(f"{c}_unit_price" for c in CATEGORIES),
    "list_value",
    "amount",
    "currency",
)


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues the invoice (the gateway operator), printed in the HTML header."""

    name: str = "Tokenward"
    address: tuple[str, ...] = ()


def render_invoice(invoice: Invoice, fmt: str, issuer: Issuer | None = None) -> bytes:
    """`invoice` as `fmt` ('json' | 'csv' | 'html'), UTF-8 bytes."""
    if fmt == "json":
        return to_json(invoice)
    if fmt == "csv":
        return to_csv(invoice).encode()
    if fmt == "html":
        return to_html(invoice, issuer or Issuer()).encode()
    raise ValueError(f"unknown invoice format {fmt!r}; choose from {', '.join(FORMATS)}")


def to_json(invoice: Invoice) -> bytes:
    """The invoice document, indented, with a final newline."""
    return orjson.dumps(invoice.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def to_csv(invoice: Invoice) -> str:
    """One row per line, then subtotal, credits applied, total and amount due rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in invoice.lines:
        data = line.as_dict()
        writer.writerow(
            [
                line.kind,
                line.description,
                line.model,
                line.price_version,
                line.window,
                line.requests,
                *(data["quantities"].get(c, "") for c in CATEGORIES),
                *(data["unit_prices"].get(c) or "" for c in CATEGORIES),
                data["list_value"],
                data["amount"],
                invoice.currency,
            ]
        )
    blanks = [""] * (len(CSV_COLUMNS) - 3)
    for label, amount in (
        ("subtotal", invoice.subtotal),
        ("credits_applied", invoice.credits_applied),
        ("total", invoice.total),
        ("amount_due", invoice.amount_due),
    ):
        writer.writerow([label, *blanks, format_amount(amount), invoice.currency])
    return buffer.getvalue()


_STYLE = """
body{font:13px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#111;margin:0}
main{max-width:960px;margin:24px auto;padding:0 24px}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#555;margin:0 0 4px}
.parties{display:flex;gap:48px;margin:24px 0}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 6px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left}
th{font-size:11px;text-transform:uppercase;color:#555;border-bottom:2px solid #999}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.meta td{border:0;padding:1px 12px 1px 0}
.totals{width:auto;margin:16px 0 0 auto}
.totals td{border:0}
.totals tr.due td{font-weight:bold;border-top:2px solid #111}
.muted{color:#666;font-size:11px}
footer{margin-top:32px;color:#444;font-size:11px}
@media print{main{margin:0;max-width:none}@page{margin:16mm}}
"""


def to_html(invoice: Invoice, issuer: Issuer) -> str:
    """A printable invoice page: no scripts, no external assets, all text escaped."""
    cur = escape(invoice.currency)
    address = "".join(f"<div>{escape(line)}</div>" for line in issuer.address)
    rows = "\n".join(_html_line(line) for line in invoice.lines) or (
        '<tr><td colspan="6" class="muted">No charges in this period.</td></tr>'
    )
    credits = format_amount(invoice.credits_applied)
    totals = "".join(
        f"<tr{' class=due' if label == 'Amount due' else ''}><td>{label}</td>"
        f'<td class="n">{text} {cur}</td></tr>'
        for label, text in (
            ("Total charges", format_amount(invoice.total)),
            ("Credits applied", f"-{credits}" if invoice.credits_applied else credits),
            ("Amount due", format_amount(invoice.amount_due)),
        )
    )
    number = escape(invoice.number)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice {number}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<header>
<div><h2>Issued by</h2><h1>{escape(issuer.name)}</h1>{address}</div>
<div>
<h1>Invoice</h1>
<table class="meta">
<tr><td>Invoice number</td><td>{number}</td></tr>
<tr><td>Issue date</td><td>{invoice.issue_date.isoformat()}</td></tr>
<tr><td>Billing period</td><td>{invoice.period_start.isoformat()} to \
{invoice.period_end.isoformat()} (UTC)</td></tr>
<tr><td>Currency</td><td>{cur}</td></tr>
</table>
</div>
</header>
<section class="parties">
<div><h2>Bill to</h2><div>{escape(invoice.account)}</div>
<div class="muted">Account id {escape(invoice.account_id)}</div></div>
</section>
<table>
<thead><tr><th>Description</th><th>Price version</th><th class="n">Requests</th>
<th>Quantities (tokens)</th><th>Unit prices ({cur} per 1M tokens)</th>
<th class="n">Amount ({cur})</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<table class="totals">{totals}</table>
<footer>
<p>{escape(ROUNDING_NOTE)}</p>
<p>Usage inside a plan's quota is listed as included at its list value and not charged.
Credits applied are amounts paid from the account's prepaid credit.</p>
</footer>
</main>
</body>
</html>
"""


def _html_line(line: InvoiceLine) -> str:
    data = line.as_dict()
    quantities = "<br>".join(f"{escape(c)}: {q:,}" for c, q in data["quantities"].items() if q)
    prices = "<br>".join(
        f"{escape(c)}: {escape(p)}" for c, p in data["unit_prices"].items() if p is not None
    )
    if line.kind == "included":
        amount = f'0.000000<div class="muted">list value {data["list_value"]}</div>'
    else:
        amount = data["amount"]
    requests = str(line.requests) if line.kind != "plan_fee" else ""
    return (
        f"<tr><td>{escape(line.description)}</td><td>{escape(line.price_version)}</td>"
        f'<td class="n">{requests}</td><td>{quantities}</td><td>{prices}</td>'
        f'<td class="n">{amount}</td></tr>'
    )


__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MEDIA_TYPES",
    "Issuer",
    "render_invoice",
    "to_csv",
    "to_html",
    "to_json",
]
