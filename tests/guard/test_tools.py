"""Tool definitions and tool calls against the tool policy, with reasons agents can act on."""

from __future__ import annotations

import json
from typing import Any

from tokenward.guard import Policy, check_tool_calls, check_tool_definitions
from tokenward.guard.tools import path_within, url_host

POLICY = Policy.from_dict(
    {
        "tools": {
            "allow": ["search_*", "http_get", "read_file", "pay", "set_mode"],
            "deny": ["*_admin"],
            "max_calls": 3,
            "args": {
                "http_get": {
                    "type": "object",
                    "required": ["url"],
                    "additionalProperties": False,
                    "properties": {
                        "url": {
                            "type": "string",
                            "allow_hosts": ["api.example.com", "*.example.org"],
                            "deny_hosts": ["bad.example.org"],
                        },
                        "timeout": {"type": "integer", "minimum": 1, "maximum": 30},
                    },
                },
                "read_file": {
                    "properties": {"path": {"type": "string", "path_prefixes": ["/srv/data"]}}
                },
                "pay": {"properties": {"amount": {"max_amount": 100}, "memo": {"maxLength": 10}}},
                "set_mode": {"properties": {"mode": {"enum": ["fast", "safe"]}}},
            },
        }
    }
).tools


def call(name: str, args: dict[str, Any] | str) -> dict[str, Any]:
    raw = args if isinstance(args, str) else json.dumps(args)
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": raw}}


def reasons(calls: list[dict[str, Any]]) -> list[str]:
    return [f.reason for f in check_tool_calls(calls, POLICY)]


def test_allowed_call_with_good_arguments_passes() -> None:
    assert reasons([call("http_get", {"url": "https://api.example.com/v1", "timeout": 5})]) == []
    assert reasons([call("read_file", {"path": "/srv/data/reports/q3.csv"})]) == []
    assert reasons([call("search_web", {"q": "anything"})]) == []


def test_names_outside_the_allow_list_or_denied() -> None:
    found = check_tool_calls([call("shell_exec", {}), call("search_admin", {})], POLICY)
    assert [f.type for f in found] == ["tool_not_allowed", "tool_not_allowed"]
    assert "not in the allowed tools" in found[0].reason
    assert "denied by the tool policy" in found[1].reason
    assert found[0].location == "tool_calls[0]"


def test_argument_violations_name_the_rule() -> None:
    assert reasons([call("http_get", {"url": "https://evil.example.net/x"})]) == [
        "tool 'http_get' arguments.url: host evil.example.net is not allowed "
        "(allowed: api.example.com, *.example.org)"
    ]
    assert "is denied" in reasons([call("http_get", {"url": "bad.example.org/x"})])[0]
    assert "missing required argument 'url'" in reasons([call("http_get", {})])[0]
    assert (
        "unexpected argument 'x'"
        in reasons([call("http_get", {"url": "https://api.example.com", "x": 1})])[0]
    )
    assert (
        "above maximum=30"
        in reasons([call("http_get", {"url": "https://api.example.com", "timeout": 99})])[0]
    )
    assert (
        "must be integer"
        in reasons([call("http_get", {"url": "https://api.example.com", "timeout": 1.5})])[0]
    )
    assert (
        "path must be under /srv/data"
        in reasons([call("read_file", {"path": "/srv/data/../../etc/passwd"})])[0]
    )
    assert "path must be under" in reasons([call("read_file", {"path": "/srv/database/x"})])[0]
    assert "amount above max_amount=100" in reasons([call("pay", {"amount": "1,000.00"})])[0]
    assert "amount above max_amount=100" in reasons([call("pay", {"amount": 100.01})])[0]
    assert "longer than maxLength=10" in reasons([call("pay", {"memo": "x" * 11})])[0]
    assert "must be one of fast, safe" in reasons([call("set_mode", {"mode": "yolo"})])[0]
    assert "not valid JSON" in reasons([call("pay", "{not json")])[0]


def test_values_are_not_echoed() -> None:
    (reason,) = reasons([call("set_mode", {"mode": "secret-value-123"})])
    assert "secret-value-123" not in reason


def test_max_calls_per_response() -> None:
    found = check_tool_calls([call("search_web", {})] * 5, POLICY)
    assert [f.location for f in found] == ["tool_calls[3]", "tool_calls[4]"]
    assert "exceeds max_calls=3" in found[0].reason


def test_tool_definitions() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("search_web", "rm_rf")]
    found = check_tool_definitions(tools, POLICY)
    assert [(f.type, f.location) for f in found] == [("tool_not_allowed", "tools[1]")]


def test_url_and_path_helpers() -> None:
    assert url_host("https://User@API.Example.com:8443/x") == "api.example.com"
    assert url_host("api.example.com/v1") == "api.example.com"
    assert url_host("not a url") is None
    assert path_within("/srv/data", ["/srv/data/"])
    assert not path_within("relative/path", ["/srv"])
    assert not path_within("/srv/data\x00/x", ["/srv/data"])
