"""`/admin/` routes of the billing concern (wired by `admin_routes.build_admin_routes`)."""

from __future__ import annotations

from starlette.routing import Route

from tokenward.api.admin_common import AdminWrap
from tokenward.services import Services


def build_routes(services: Services, admin: AdminWrap) -> list[Route]:
    """Routes bound to one `Services` bundle; `admin` wraps a handler with the key check."""
    _ = (services, admin)
    return []


__all__ = ["build_routes"]
