"""Check tool definitions (request) and tool calls (response) against a `ToolPolicy`.

Findings are `tool_not_allowed` (name not allowed, or over `max_calls`) and
`tool_arg_violation` (arguments break the schema). Each reason is one sentence an
agent can act on: which tool, which argument, what rule, what would be accepted.
Values are never echoed (they may hold data); hosts are, because that is the fix.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from tokenward.guard.detectors.exfil import host_allowed
from tokenward.guard.findings import Finding, FindingType
from tokenward.guard.policy import ArgSchema, ToolPolicy

_PY_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def tool_name(item: Mapping[str, Any]) -> str:
    """The name in an OpenAI tool definition or tool call (`function.name` or `name`)."""
    function = item.get("function")
    if isinstance(function, Mapping):
        return str(function.get("name", ""))
    return str(item.get("name", ""))


def check_tool_definitions(
    tools: Sequence[Mapping[str, Any]], policy: ToolPolicy, *, where: str = "tools"
) -> list[Finding]:
    """`tool_not_allowed` for each definition a client offers that the policy forbids."""
    out = []
    for i, tool in enumerate(tools):
        refusal = policy.refusal(tool_name(tool))
        if refusal is not None:
            out.append(_finding("tool_not_allowed", refusal, f"{where}[{i}]"))
    return out


def check_tool_calls(
    calls: Sequence[Mapping[str, Any]], policy: ToolPolicy, *, where: str = "tool_calls"
) -> list[Finding]:
    """Findings for the tool calls of one model response, in call order."""
    out = []
    for i, call in enumerate(calls):
        location = f"{where}[{i}]"
        name = tool_name(call)
        if policy.max_calls is not None and i >= policy.max_calls:
            reason = (
                f"tool call {i + 1} to '{name}' exceeds max_calls={policy.max_calls} per response"
            )
            out.append(_finding("tool_not_allowed", reason, location))
            continue
        refusal = policy.refusal(name)
        if refusal is not None:
            out.append(_finding("tool_not_allowed", refusal, location))
            continue
        schemas = policy.schemas_for(name)
        if not schemas:
            continue
        args, error = _arguments(call)
        if error is not None:
            out.append(_finding("tool_arg_violation", f"tool '{name}': {error}", location))
            continue
        for schema in schemas:
            for problem in validate(args, schema, "arguments"):
                reason = f"tool '{name}' {problem}"
                out.append(_finding("tool_arg_violation", reason, location))
    return out


def _arguments(call: Mapping[str, Any]) -> tuple[Any, str | None]:
    function = call.get("function")
    raw = (
        function.get("arguments", "{}")
        if isinstance(function, Mapping)
        else call.get("arguments", "{}")
    )
    if isinstance(raw, Mapping):
        return dict(raw), None
    if not isinstance(raw, str):
        return None, "arguments must be a JSON object"
    try:
        return json.loads(raw or "{}", parse_float=Decimal), None
    except ValueError:
        return None, "arguments are not valid JSON"


def validate(value: Any, schema: ArgSchema, path: str) -> Iterator[str]:
    """Every way `value` breaks `schema`, as "<path>: <problem>" sentences."""
    if schema.type and not any(_is_type(value, t) for t in schema.type):
        yield f"{path}: must be {' or '.join(schema.type)}"
        return
    if schema.enum is not None and value not in schema.enum:
        yield f"{path}: must be one of {', '.join(map(str, schema.enum))[:200]}"
    if isinstance(value, str):
        yield from _check_string(value, schema, path)
    if _is_number(value):
        yield from _check_number(Decimal(value), schema, path)
    if isinstance(value, dict):
        for name in schema.required:
            if name not in value:
                yield f"{path}: missing required argument '{name}'"
        for name, sub in value.items():
            if name in schema.properties:
                yield from validate(sub, schema.properties[name], f"{path}.{name}")
            elif not schema.additional_properties:
                yield f"{path}: unexpected argument '{name}'"
    if isinstance(value, list) and schema.items is not None:
        for i, item in enumerate(value):
            yield from validate(item, schema.items, f"{path}[{i}]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_type(value: Any, name: str) -> bool:
    if name in ("number", "integer"):
        if not _is_number(value):
            return False
        return name == "number" or Decimal(value) == Decimal(value).to_integral_value()
    if name != "boolean" and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[name])


def _check_string(value: str, schema: ArgSchema, path: str) -> Iterator[str]:
    if schema.max_length is not None and len(value) > schema.max_length:
        yield f"{path}: longer than maxLength={schema.max_length}"
    if schema.allow_hosts is not None or schema.deny_hosts:
        host = url_host(value)
        if host is None:
            yield f"{path}: must be a URL or host name"
        elif schema.deny_hosts and host_allowed(host, frozenset(schema.deny_hosts)):
            yield f"{path}: host {host} is denied"
        elif schema.allow_hosts is not None and not host_allowed(
            host, frozenset(schema.allow_hosts)
        ):
            allowed = ", ".join(schema.allow_hosts) or "none"
            yield f"{path}: host {host} is not allowed (allowed: {allowed})"
    if schema.path_prefixes is not None and not path_within(value, schema.path_prefixes):
        yield f"{path}: path must be under {', '.join(schema.path_prefixes)}"
    if schema.max_amount is not None:
        try:
            amount = Decimal(value.replace(",", "").strip())
        except InvalidOperation:
            yield f"{path}: must be an amount"
            return
        if not amount.is_finite() or amount > schema.max_amount:
            yield f"{path}: amount above max_amount={schema.max_amount}"


def _check_number(value: Decimal, schema: ArgSchema, path: str) -> Iterator[str]:
    if schema.minimum is not None and value < schema.minimum:
        yield f"{path}: below minimum={schema.minimum}"
    if schema.maximum is not None and value > schema.maximum:
        yield f"{path}: above maximum={schema.maximum}"
    if schema.max_amount is not None and value > schema.max_amount:
        yield f"{path}: amount above max_amount={schema.max_amount}"


def url_host(value: str) -> str | None:
    """The host of a URL ("https://a.example/x") or bare host ("a.example:8080/x")."""
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        host = parts.hostname
    except ValueError:
        return None
    return host.lower() if host else None


def path_within(value: str, prefixes: Sequence[str]) -> bool:
    """True when `value`, normalised ("..", "//"), is an absolute path under a prefix."""
    if "\x00" in value or not value.startswith("/"):
        return False
    path = posixpath.normpath(value)
    for prefix in prefixes:
        root = posixpath.normpath(prefix)
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return True
    return False


def _finding(type_: FindingType, reason: str, location: str) -> Finding:
    return Finding(type_, 0, 0, 1.0, reason, location)


__all__ = [
    "check_tool_calls",
    "check_tool_definitions",
    "path_within",
    "tool_name",
    "url_host",
    "validate",
]
