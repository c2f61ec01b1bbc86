"""Pure entry points: inspect OpenAI-shaped messages or a text, apply a policy, decide.

`inspect_messages` scans every text a model would read or a client would receive:
string contents, text parts of multi-part contents, tool results, and the arguments
of tool calls; for responses it also applies the tool policy to the tool calls the
model returned, and for requests to the tool definitions the client offers. Each
finding gets the action its type draws in the policy; the verdict is "block" if any
finding blocks, else "redact" if any redacts, else "allow".

Redaction never mutates the input: changed messages are shallow copies. A redacted
tool call is removed from `tool_calls` and a one-line note takes its place in the
message content, so the agent learns why its call did not run.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from typing import Any

from tokenward.guard.findings import ROLES, Decision, Direction, Finding, Role, Verdict
from tokenward.guard.policy import Policy
from tokenward.guard.redact import redact_text
from tokenward.guard.scanner import Scanner
from tokenward.guard.tools import check_tool_calls, check_tool_definitions, tool_name

_ROLE_ALIASES: Mapping[str, Role] = {"developer": "system", "function": "tool"}


@cache
def default_scanner() -> Scanner:
    """A shared scanner with default settings, built on first use (it is stateless)."""
    return Scanner(min_score=0.0)


def inspect_text(
    text: str,
    policy: Policy,
    direction: Direction,
    *,
    role: Role = "user",
    scanner: Scanner | None = None,
) -> Verdict:
    """Inspect one text; the verdict's `redacted_text` has the redactions applied."""
    findings = _scan(text, role, policy, direction, scanner, "")
    return Verdict(_decision(findings), tuple(findings), redacted_text=_redacted(text, findings))


def inspect_messages(
    messages: Sequence[Mapping[str, Any]],
    policy: Policy,
    direction: Direction,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    scanner: Scanner | None = None,
) -> Verdict:
    """Inspect a chat request's messages (and `tools`) or a response's messages."""
    findings: list[Finding] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        found, new = _message(message, f"messages[{i}]", policy, direction, scanner)
        findings.extend(found)
        out.append(new)
    redacted_tools: tuple[dict[str, Any], ...] | None = None
    if tools is not None:
        tool_findings = [
            _with_action(f, policy, direction) for f in check_tool_definitions(tools, policy.tools)
        ]
        findings.extend(tool_findings)
        dropped = {f.location for f in tool_findings if f.action == "redact"}
        redacted_tools = tuple(dict(t) for i, t in enumerate(tools) if f"tools[{i}]" not in dropped)
    return Verdict(_decision(findings), tuple(findings), tuple(out), redacted_tools)


def _message(
    message: Mapping[str, Any],
    where: str,
    policy: Policy,
    direction: Direction,
    scanner: Scanner | None,
) -> tuple[list[Finding], dict[str, Any]]:
    role = _role(message.get("role"))
    new = dict(message)
    findings: list[Finding] = []
    content = message.get("content")
    if isinstance(content, str):
        found = _scan(content, role, policy, direction, scanner, f"{where}.content")
        findings += found
        new["content"] = _redacted(content, found)
    elif isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") == "text":
                text = str(part.get("text", ""))
                found = _scan(text, role, policy, direction, scanner, f"{where}.content[{j}].text")
                findings += found
                part = {**part, "text": _redacted(text, found)} if found else part
            parts.append(part)
        new["content"] = parts
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        found, kept, notes = _tool_calls(calls, f"{where}.tool_calls", policy, direction, scanner)
        findings += found
        if notes:
            new["tool_calls"] = kept
            if not kept:
                del new["tool_calls"]
            existing = new.get("content") if isinstance(new.get("content"), str) else ""
            new["content"] = "\n".join(filter(None, [existing, *notes]))
        elif kept != calls:
            new["tool_calls"] = kept
    return findings, new


def _tool_calls(
    calls: list[Any], where: str, policy: Policy, direction: Direction, scanner: Scanner | None
) -> tuple[list[Finding], list[Any], list[str]]:
    """Findings for tool calls; the calls to keep; notes for the calls removed."""
    findings: list[Finding] = []
    kept: list[Any] = []
    notes: list[str] = []
    policy_found: list[Finding] = []
    if direction == "response":
        policy_found = [
            _with_action(f, policy, direction) for f in check_tool_calls(calls, policy.tools)
        ]
    for k, call in enumerate(calls):
        location = f"{where}[{k}]"
        mine = [f.at(f"{where}[{k}]") for f in policy_found if f.location == f"tool_calls[{k}]"]
        findings += mine
        if any(f.action == "redact" for f in mine):
            reasons = "; ".join(f.reason for f in mine)
            notes.append(f"[tool call '{tool_name(call)}' was blocked by policy: {reasons}]")
            continue
        function = call.get("function") if isinstance(call, Mapping) else None
        arguments = function.get("arguments") if isinstance(function, Mapping) else None
        if isinstance(arguments, str) and arguments:
            found = _scan(
                arguments, "assistant", policy, direction, scanner, f"{location}.function.arguments"
            )
            findings += found
            if any(f.action in ("redact", "block") for f in found):
                call = copy.deepcopy(call)
                call["function"]["arguments"] = _redacted(arguments, found)
        kept.append(call)
    return findings, kept, notes


def _scan(
    text: str,
    role: Role,
    policy: Policy,
    direction: Direction,
    scanner: Scanner | None,
    location: str,
) -> list[Finding]:
    if not text:
        return []
    engine = scanner or default_scanner()
    found = engine.scan(text, role=role, allow_hosts=policy.allow_hosts)
    return [
        _with_action(f.at(location), policy, direction)
        for f in found
        if f.score >= policy.min_score
    ]


def _with_action(f: Finding, policy: Policy, direction: Direction) -> Finding:
    return replace(f, action=policy.action(f.type, direction))


def _redacted(text: str, found: list[Finding]) -> str:
    acted = [f for f in found if f.action in ("redact", "block")]
    return redact_text(text, acted) if acted else text


def _role(value: Any) -> Role:
    name = str(value or "user")
    if name in _ROLE_ALIASES:
        return _ROLE_ALIASES[name]
    return name if name in ROLES else "user"


def _decision(findings: Sequence[Finding]) -> Decision:
    actions = {f.action for f in findings}
    return "block" if "block" in actions else "redact" if "redact" in actions else "allow"


__all__ = ["default_scanner", "inspect_messages", "inspect_text"]
