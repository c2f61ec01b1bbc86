"""`/admin/` routes of billing documents: invoices and reconciliation.

- `GET /admin/invoices?account=A&period=YYYY-MM&format=json|csv|html[&currency=C]`
- `POST /admin/reconcile?provider=P[&since=&until=&map=COL=FIELD&cost_tolerance=]`
  with the provider's CSV export as the body; answers the report as JSON.

The admin wrapper renders handler results as JSON; a CSV or HTML invoice is rendered
by the handler, left on `request.state`, and answered with its own media type once
the wrapper has checked the key.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenward.api.admin_common import AdminWrap
from tokenward.billing import FORMATS, MEDIA_TYPES, build_invoice, reconcile, render_invoice
from tokenward.billing.export_csv import parse_mapping
from tokenward.errors import InvalidRequest
from tokenward.money import parse_amount
from tokenward.pricing import load_catalog
from tokenward.services import Services

#: an export larger than this is refused (reconcile reads it in memory)
MAX_EXPORT_BYTES = 64 * 1024 * 1024


def build_routes(services: Services, admin: AdminWrap) -> list[Route]:
    """Routes bound to one `Services` bundle; `admin` wraps a handler with the key check."""
    store = services.store

    async def invoice_document(request: Request) -> Any:
        query = request.query_params
        fmt = query.get("format", "json")
        if fmt not in FORMATS:
            raise InvalidRequest(f"'format' must be one of {', '.join(FORMATS)}", param="format")

        def build() -> bytes:
            built = build_invoice(
                store,
                _required(query, "account"),
                _required(query, "period"),
                catalog=load_catalog(store),
                currency=query.get("currency") or None,
            )
            return render_invoice(built, fmt)

        request.state.document = (await asyncio.to_thread(build), MEDIA_TYPES[fmt])
        return {}

    checked_invoice = admin(invoice_document)

    async def invoices(request: Request) -> Response:
        response = await checked_invoice(request)
        document = getattr(request.state, "document", None)
        if response.status_code != 200 or document is None:
            return response  # the key check or the build failed: the wrapper's error
        body, media_type = document
        return Response(body, media_type=media_type)

    async def reconcile_export(request: Request) -> Any:
        query = request.query_params
        body = await request.body()
        if len(body) > MAX_EXPORT_BYTES:
            raise InvalidRequest("the export is too large", param="file")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest("the export must be UTF-8 text (CSV)", param="file") from None
        report = await asyncio.to_thread(
            partial(
                reconcile,
                store,
                _required(query, "provider"),
                text,
                since=_time(query.get("since"), "since"),
                until=_time(query.get("until"), "until"),
                mapping=parse_mapping(query.getlist("map")),
                cost_tolerance=Decimal(
                    parse_amount(query.get("cost_tolerance", "0"), "cost_tolerance")
                ),
            )
        )
        return report.as_dict()

    return [
        Route("/admin/invoices", invoices, methods=["GET"]),
        Route("/admin/reconcile", admin(reconcile_export), methods=["POST"]),
    ]


def _required(query: Any, name: str) -> str:
    value = query.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{name}' is required", param=name)
    return value


def _time(value: str | None, name: str) -> datetime | None:
    """An ISO date or date-time; naive means UTC (a bare date is its midnight)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an ISO 8601 date or time", param=name) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


__all__ = ["build_routes"]
