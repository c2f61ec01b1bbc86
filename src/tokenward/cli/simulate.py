"""`tokenward simulate`: the simulator as a standalone OpenAI-compatible upstream.

`--dialect NAME` makes it imitate a vendor preset: `anthropic` also serves the
Messages API on `/v1/messages`; deepseek, qwen, ollama, ... shape the chat replies'
usage as that vendor does (`providers.simulator.dialects`).

It is the demo upstream, the test upstream and the benchmark upstream, so it runs on
uvicorn with uvloop and httptools, no access log, warnings only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer
import uvicorn

from tokenward.cli.output import ConfigOption
from tokenward.config import load_settings
from tokenward.providers.simulator import create_simulator_app
from tokenward.providers.simulator.dialects import DIALECTS

#: uvicorn's complaint when an injected fault ends a response unfinished (on purpose)
_EXPECTED_NOISE = ("returned without completing response", "returned without starting response")


class _InjectedFaultFilter(logging.Filter):
    """Keep the log for real problems, not for connections the simulator dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _EXPECTED_NOISE)


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        config: Path | None = ConfigOption,
        host: str = typer.Option("127.0.0.1", help="Listen address."),
        port: int = typer.Option(4010, help="Listen port."),
        journal: Path | None = typer.Option(None, help="Append a JSONL usage journal here."),
        chunk_count: int | None = typer.Option(
            None, help="Content chunks per reply (0: per word)."
        ),
        chunk_delay_ms: float | None = typer.Option(None, help="Delay between chunks."),
        latency_ms: float | None = typer.Option(None, help="Delay before the first byte."),
        error_rate: float | None = typer.Option(None, help="Share of requests answered 500."),
        rate_limit_rate: float | None = typer.Option(None, help="Share answered 429."),
        timeout_rate: float | None = typer.Option(None, help="Share that hang, then close."),
        broken_stream_rate: float | None = typer.Option(None, help="Share of streams cut."),
        seed: int | None = typer.Option(None, help="Seed of every generated reply."),
        dialect: str | None = typer.Option(
            None, help=f"Vendor to imitate: {', '.join(DIALECTS)} (default openai)."
        ),
    ) -> None:
        """Serve the deterministic simulator upstream (OpenAI-compatible, offline)."""
        settings = load_settings(
            config,
            overrides={
                "simulator.journal_path": None if journal is None else str(journal),
                "simulator.chunk_count": chunk_count,
                "simulator.chunk_delay_ms": chunk_delay_ms,
                "simulator.latency_ms": latency_ms,
                "simulator.error_rate": error_rate,
                "simulator.rate_limit_rate": rate_limit_rate,
                "simulator.timeout_rate": timeout_rate,
                "simulator.broken_stream_rate": broken_stream_rate,
                "simulator.seed": seed,
                "simulator.dialect": dialect,
            },
        )
        logging.getLogger("uvicorn.error").addFilter(_InjectedFaultFilter())
        sim = settings.simulator
        typer.echo(
            f"Tokenward simulator on http://{host}:{port}/v1  (models: {', '.join(sim.models)}; "
            f"dialect {sim.dialect}; seed {sim.seed}; journal {sim.journal_path or 'off'})"
        )
        uvicorn.run(
            create_simulator_app(sim),
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
        )


__all__ = ["register"]
