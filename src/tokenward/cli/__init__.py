"""The `tokenward` command: a thin shell over the same services the HTTP API uses.

Exit codes: 0 ok, 1 the operation failed, 2 usage error. Errors are one line on
stderr, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from tokenward.cli import (
    accounts,
    audit,
    credits,
    guard,
    init,
    invoice,
    keys,
    ledger,
    limits,
    plans,
    prices,
    reconcile,
    serve,
    simulate,
    usage,
)
from tokenward.cli.output import run_cli

app = typer.Typer(
    name="tokenward",
    help="Token-economy gateway for LLMs: meter, price, limit and guard every token.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    serve,
    init,
    simulate,
    accounts,
    keys,
    limits,
    plans,
    prices,
    credits,
    ledger,
    usage,
    guard,
    audit,
    invoice,
    reconcile,
):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_cli(app))


__all__ = ["app", "main"]
