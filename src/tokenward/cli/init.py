"""`tokenward init`: write a commented `tokenward.toml`."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import typer

from tokenward.cli.output import CliFailure
from tokenward.config import load_settings


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        path: Path = typer.Option(Path("tokenward.toml"), "--path", help="Where to write it."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a commented example configuration."""
        if path.exists() and not force:
            raise CliFailure(f"{path} exists; use --force to overwrite it")
        text = files("tokenward.config").joinpath("example.toml").read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        load_settings(path)  # the example must always be a valid configuration
        typer.echo(f"wrote {path}")
