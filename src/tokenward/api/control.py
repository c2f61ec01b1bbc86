"""Framework-routed endpoints: /healthz, /readyz, /metrics and the /admin API."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tokenward.api.admin_routes import build_admin_routes
from tokenward.services import Services

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def build_control_app(services: Services) -> Starlette:
    """The non-proxy routes, bound to one `Services` bundle."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await asyncio.wait_for(asyncio.to_thread(services.store.ping), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - any store failure means "not ready"
            return JSONResponse(
                {"status": "unavailable", "store": type(exc).__name__}, status_code=503
            )
        if not services.writer.running:
            return JSONResponse({"status": "unavailable", "writer": "stopped"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(services.metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        message = "Unknown route." if status == 404 else "Method not allowed."
        return JSONResponse(
            {"error": {"message": message, "type": kind, "code": str(status), "param": None}},
            status_code=status,
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *build_admin_routes(services),
        ],
        exception_handlers={HTTPException: http_error},
    )


__all__ = ["build_control_app"]
