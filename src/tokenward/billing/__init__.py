"""Billing: invoices per account and month, and reconciliation with provider exports.

Both read only the database (usage events and the double-entry ledger), so they
are reproducible; the CLI (`tokenward invoice`, `tokenward reconcile`) and the
admin API (`/admin/invoices`, `/admin/reconcile`) call the same functions.
"""

from tokenward.billing.invoices import Invoice, InvoiceLine, PriceVersions, build_invoice
from tokenward.billing.reconcile import Reconciliation, reconcile
from tokenward.billing.render import FORMATS, MEDIA_TYPES, Issuer, render_invoice

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Invoice",
    "InvoiceLine",
    "Issuer",
    "PriceVersions",
    "Reconciliation",
    "build_invoice",
    "reconcile",
    "render_invoice",
]
