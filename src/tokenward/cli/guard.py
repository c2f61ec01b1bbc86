"""`tokenward guard scan`: run the guard's detectors over text on stdin.

The same `Scanner` the gateway uses, with default settings; nothing is sent anywhere.
Prints `{"findings": [{"type", "start", "end", "score", "reason"}]}` (or a table);
offsets are in characters of the input. The exit code is 0 whether or not anything
was found: the findings are the result.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import orjson
import typer

from tokenward.cli.output import OutputFormat, render
from tokenward.guard import Scanner

COLUMNS = ("type", "start", "end", "score", "reason")


class ScanRole(StrEnum):
    user = "user"
    assistant = "assistant"
    tool = "tool"


class ScanFormat(StrEnum):
    json = "json"
    table = "table"


def register(app: typer.Typer) -> None:
    guard = typer.Typer(
        name="guard",
        help="Runtime guard: scan text for personal data, secrets and injections.",
        no_args_is_help=True,
    )

    @guard.command("scan")
    def scan(
        role: ScanRole = typer.Option(
            ScanRole.user,
            "--role",
            help="Who wrote the text: user (direct injection), tool (indirect), assistant.",
        ),
        fmt: ScanFormat = typer.Option(ScanFormat.json, "--format", help="json | table"),
    ) -> None:
        """Read text on stdin and print what the guard finds in it."""
        text = sys.stdin.read()
        findings = Scanner().scan(text, role=role.value)
        rows = [f.as_dict() for f in findings]
        if fmt is ScanFormat.json:
            sys.stdout.write(orjson.dumps({"findings": rows}).decode() + "\n")
        else:
            render(rows, OutputFormat.table, COLUMNS)

    app.add_typer(guard, name="guard")


__all__ = ["ScanFormat", "ScanRole", "register"]
