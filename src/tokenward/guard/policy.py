"""Guard policy as frozen data, parsed from a TOML-shaped dict with one-line errors.

    [guard]
    min_score = 0.5
    allow_hosts = ["cdn.example.com"]      # markdown images / links may point here
    [guard.request]                        # client -> model
    default = "log"                        # block | redact | log
    secrets = "redact"                     # group: every secret_* type
    pii = "log"                            # group: resident ID, mobile, card, USCC, email, IP
    cn_resident_id = "block"               # a single type beats its group
    [guard.response]                       # model -> client
    exfil_url = "redact"
    [guard.tools]
    allow = ["search_*", "get_weather"]    # name globs; absent = every tool
    deny = ["*shell*"]
    max_calls = 5                          # tool calls per model response
    [guard.tools.args."http_*"]            # JSON-Schema subset for the arguments
    required = ["url"]
    properties.url = { type = "string", allow_hosts = ["api.example.com"] }

Layers merge account < key < model: `merge_policies(account, key, model)`. A later
layer overrides what it sets (per finding type, per tool glob) and inherits the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any, cast

from tokenward.errors import ConfigError
from tokenward.guard.findings import (
    ACTIONS,
    FINDING_TYPES,
    PII_TYPES,
    SECRET_TYPES,
    TOOL_TYPES,
    Action,
    Direction,
    FindingType,
)

JSON_TYPES = frozenset(("string", "number", "integer", "boolean", "object", "array", "null"))
_GROUPS: Mapping[str, frozenset[FindingType]] = {"secrets": SECRET_TYPES, "pii": PII_TYPES}


def _default_actions() -> Mapping[FindingType, Action]:
    actions: dict[FindingType, Action] = {t: "log" for t in FINDING_TYPES}
    actions.update({t: "redact" for t in SECRET_TYPES})
    actions.update({t: "block" for t in TOOL_TYPES})
    return MappingProxyType(actions)


@dataclass(frozen=True, slots=True)
class ArgSchema:
    """A JSON-Schema subset for tool arguments, plus gateway checks for strings/numbers.

    JSON Schema: type, required, properties, additionalProperties, items, enum,
    maxLength, minimum, maximum. Gateway: allow_hosts / deny_hosts (URL-ish strings,
    "*.example.com" for subdomains), path_prefixes (normalised absolute paths),
    max_amount (a number or numeric string).
    """

    type: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    properties: Mapping[str, ArgSchema] = field(default_factory=lambda: MappingProxyType({}))
    additional_properties: bool = True
    items: ArgSchema | None = None
    enum: tuple[Any, ...] | None = None
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    allow_hosts: tuple[str, ...] | None = None
    deny_hosts: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] | None = None
    max_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """Which tools an agent may call, with which arguments, how many per response."""

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()
    max_calls: int | None = None
    #: (tool-name glob, schema); every matching glob's schema applies
    args: tuple[tuple[str, ArgSchema], ...] = ()

    def schemas_for(self, name: str) -> list[ArgSchema]:
        """The argument schemas that apply to tool `name`."""
        return [schema for glob, schema in self.args if fnmatchcase(name, glob)]

    def refusal(self, name: str) -> str | None:
        """Why tool `name` may not be used, or None when it may."""
        for glob in self.deny:
            if fnmatchcase(name, glob):
                return f"tool '{name}' is denied by the tool policy (matches '{glob}')"
        if self.allow is not None and not any(fnmatchcase(name, g) for g in self.allow):
            allowed = ", ".join(self.allow) or "none"
            return f"tool '{name}' is not in the allowed tools ({allowed})"
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Actions per finding type and direction, thresholds, exfil hosts and tool rules."""

    request: Mapping[FindingType, Action] = field(default_factory=_default_actions)
    response: Mapping[FindingType, Action] = field(default_factory=_default_actions)
    min_score: float = 0.5
    allow_hosts: tuple[str, ...] = ()
    tools: ToolPolicy = field(default_factory=ToolPolicy)

    def action(self, type_: FindingType, direction: Direction) -> Action:
        """What to do with a finding of `type_` travelling in `direction`."""
        return (self.request if direction == "request" else self.response)[type_]

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, *, base: Policy | None = None, where: str = "guard"
    ) -> Policy:
        """Parse one layer (a `[guard]` table) over `base` (default: the defaults)."""
        return _parse(data or {}, base or cls(), where)


def merge_policies(*layers: Mapping[str, Any] | None, where: str = "guard") -> Policy:
    """Parse layers from least to most specific (account, key, model) into one policy."""
    policy = Policy()
    for i, layer in enumerate(layers):
        policy = Policy.from_dict(layer, base=policy, where=f"{where}[{i}]" if i else where)
    return policy


def _parse(data: Mapping[str, Any], base: Policy, where: str) -> Policy:
    _only(data, {"min_score", "allow_hosts", "request", "response", "tools", "enabled"}, where)
    min_score = base.min_score
    if "min_score" in data:
        min_score = _number(data["min_score"], f"{where}.min_score")
        if not 0 <= min_score <= 1:
            raise ConfigError(f"{where}.min_score must be between 0 and 1, got {min_score}")
    allow_hosts = base.allow_hosts
    if "allow_hosts" in data:
        allow_hosts = _strings(data["allow_hosts"], f"{where}.allow_hosts")
    return replace(
        base,
        min_score=float(min_score),
        allow_hosts=allow_hosts,
        request=_actions(data.get("request"), base.request, f"{where}.request"),
        response=_actions(data.get("response"), base.response, f"{where}.response"),
        tools=_tools(data.get("tools"), base.tools, f"{where}.tools"),
    )


def _actions(
    data: Any, base: Mapping[FindingType, Action], where: str
) -> Mapping[FindingType, Action]:
    if data is None:
        return base
    table = _table(data, where)
    out = dict(base)
    # least to most specific: default, then groups, then single types
    order = sorted(table, key=lambda k: 0 if k == "default" else 1 if k in _GROUPS else 2)
    for key in order:
        action = _action(table[key], f"{where}.{key}")
        if key == "default":
            out.update({t: action for t in FINDING_TYPES})
        elif key in _GROUPS:
            out.update({t: action for t in _GROUPS[key]})
        elif key in FINDING_TYPES:
            out[key] = action
        else:
            raise ConfigError(
                f"{where}: unknown finding type {key!r}; expected default, pii, secrets or "
                f"one of {', '.join(FINDING_TYPES)}"
            )
    return MappingProxyType(out)


def _action(value: Any, where: str) -> Action:
    if value not in ACTIONS:
        raise ConfigError(f"{where}: action must be block, redact or log, got {value!r}")
    return cast(Action, value)


def _tools(data: Any, base: ToolPolicy, where: str) -> ToolPolicy:
    if data is None:
        return base
    table = _table(data, where)
    _only(table, {"allow", "deny", "max_calls", "args"}, where)
    allow = _strings(table["allow"], f"{where}.allow") if "allow" in table else base.allow
    deny = _strings(table["deny"], f"{where}.deny") if "deny" in table else base.deny
    max_calls = base.max_calls
    if "max_calls" in table:
        max_calls = _integer(table["max_calls"], f"{where}.max_calls", minimum=0)
    args = dict(base.args)
    for glob, schema in _table(table.get("args", {}), f"{where}.args").items():
        args[glob] = parse_schema(schema, f"{where}.args.{glob}")
    return ToolPolicy(allow, deny, max_calls, tuple(args.items()))


_SCHEMA_KEYS = {
    "type", "required", "properties", "additionalProperties", "items", "enum", "maxLength",
    "minimum", "maximum", "allow_hosts", "deny_hosts", "path_prefixes", "max_amount",
    "description", "title",
}  # fmt: skip


def parse_schema(data: Any, where: str) -> ArgSchema:
    """Parse one schema node; unknown keywords are errors (they are usually typos)."""
    node = _table(data, where)
    _only(node, _SCHEMA_KEYS, where)
    types: tuple[str, ...] = ()
    if "type" in node:
        raw = node["type"]
        types = (raw,) if isinstance(raw, str) else _strings(raw, f"{where}.type")
        bad = [t for t in types if t not in JSON_TYPES]
        if bad:
            raise ConfigError(f"{where}.type: unknown JSON type {bad[0]!r}")
    properties = {
        name: parse_schema(sub, f"{where}.properties.{name}")
        for name, sub in _table(node.get("properties", {}), f"{where}.properties").items()
    }
    prefixes = None
    if "path_prefixes" in node:
        prefixes = _strings(node["path_prefixes"], f"{where}.path_prefixes")
        if any(not p.startswith("/") for p in prefixes):
            raise ConfigError(f"{where}.path_prefixes: every prefix must be an absolute path")
    additional = node.get("additionalProperties", True)
    if not isinstance(additional, bool):
        raise ConfigError(f"{where}.additionalProperties must be true or false")
    enum = node.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise ConfigError(f"{where}.enum must be a list")
    return ArgSchema(
        type=types,
        required=_strings(node.get("required", []), f"{where}.required"),
        properties=MappingProxyType(properties),
        additional_properties=additional,
        items=parse_schema(node["items"], f"{where}.items") if "items" in node else None,
        enum=tuple(enum) if enum is not None else None,
        max_length=_integer(node["maxLength"], f"{where}.maxLength", minimum=0)
        if "maxLength" in node
        else None,
        minimum=_decimal(node["minimum"], f"{where}.minimum") if "minimum" in node else None,
        maximum=_decimal(node["maximum"], f"{where}.maximum") if "maximum" in node else None,
        allow_hosts=_strings(node["allow_hosts"], f"{where}.allow_hosts")
        if "allow_hosts" in node
        else None,
        deny_hosts=_strings(node.get("deny_hosts", []), f"{where}.deny_hosts"),
        path_prefixes=prefixes,
        max_amount=_decimal(node["max_amount"], f"{where}.max_amount")
        if "max_amount" in node
        else None,
    )


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table, got {type(value).__name__}")
    return value


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def _integer(value: Any, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where} must be a number, got {value!r}") from None


__all__ = ["JSON_TYPES", "ArgSchema", "Policy", "ToolPolicy", "merge_policies", "parse_schema"]
