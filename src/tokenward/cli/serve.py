"""`tokenward serve`: migrate, bootstrap first-start keys, then run uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from tokenward import __version__
from tokenward.auth import bootstrap
from tokenward.cli.output import ConfigOption
from tokenward.clock import SystemClock
from tokenward.config import Settings, load_settings, pin_config_path_for_workers
from tokenward.storage import Store, migrate


def _prepare(settings: Settings) -> None:
    """Runs once, before any worker starts: schema up to date, first-start keys printed."""
    store = Store.connect(settings.database)
    try:
        migrate(store)
        created = bootstrap(store, settings, SystemClock())
    finally:
        store.close()
    base = f"http://{settings.server.host}:{settings.server.port}"
    typer.echo(
        f"Tokenward {__version__} on {base}  "
        f"({len(settings.models)} models, database {settings.database.url.split('://')[0]}, "
        f"{settings.server.workers} worker(s))"
    )
    if created.admin_key or created.demo_key:
        typer.echo("First start: these keys are shown once; store them now.")
        if created.admin_key:
            typer.echo(f"  admin key : {created.admin_key}")
        if created.demo_key:
            typer.echo(f"  demo key  : {created.demo_key}   (account 'demo')")
            typer.echo(
                f"  try: curl -s {base}/v1/chat/completions -H 'Authorization: Bearer "
                f"{created.demo_key}' -H 'Content-Type: application/json' -d "
                f'\'{{"model":"{settings.models[0].name}","messages":'
                f'[{{"role":"user","content":"hello"}}]}}\''
            )


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        config: Path | None = ConfigOption,
        host: str | None = typer.Option(None, help="Listen address (default 127.0.0.1)."),
        port: int | None = typer.Option(None, help="Listen port (default 4000)."),
        workers: int | None = typer.Option(None, help="Worker processes (default 1)."),
    ) -> None:
        """Serve the gateway."""
        settings = load_settings(
            config,
            overrides={"server.host": host, "server.port": port, "server.workers": workers},
        )
        _prepare(settings)
        options = {
            "host": settings.server.host,
            "port": settings.server.port,
            "loop": "uvloop",
            "http": "httptools",
            "lifespan": "on",
            "access_log": False,
            "proxy_headers": False,  # the gateway is the edge; no X-Forwarded-* rewriting
            "server_header": False,
            "log_level": "warning",
            "timeout_graceful_shutdown": 30,
        }
        if settings.server.workers == 1:
            from tokenward.app import create_app

            uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        else:
            # worker processes rebuild settings themselves: hand them the same config file
            pin_config_path_for_workers(settings.config_path)
            uvicorn.run(
                "tokenward.app:create_app",
                factory=True,
                workers=settings.server.workers,
                **options,  # type: ignore[arg-type]
            )
