"""Policies parse from TOML-shaped dicts, fail with one clear line, and merge in layers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tokenward.errors import ConfigError
from tokenward.guard import Policy, merge_policies


def test_defaults_redact_secrets_block_tools_log_the_rest() -> None:
    policy = Policy()
    assert policy.action("secret_openai_key", "request") == "redact"
    assert policy.action("cn_resident_id", "request") == "log"
    assert policy.action("tool_arg_violation", "response") == "block"
    assert policy.tools.allow is None and policy.min_score == 0.5


def test_groups_and_single_types_in_order_of_specificity() -> None:
    policy = Policy.from_dict(
        {
            "request": {"cn_resident_id": "block", "pii": "redact", "default": "block"},
            "response": {"secrets": "block"},
        }
    )
    assert policy.action("cn_resident_id", "request") == "block"
    assert policy.action("email", "request") == "redact"
    assert policy.action("prompt_injection", "request") == "block"
    assert policy.action("secret_jwt", "response") == "block"
    assert policy.action("email", "response") == "log"


def test_tools_and_schema() -> None:
    policy = Policy.from_dict(
        {
            "allow_hosts": ["cdn.example.com"],
            "tools": {
                "allow": ["search_*"],
                "deny": ["*shell*"],
                "max_calls": 3,
                "args": {
                    "http_*": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {"url": {"type": "string", "allow_hosts": ["a.example"]}},
                    },
                    "pay": {"properties": {"amount": {"max_amount": "100.50"}}},
                },
            },
        }
    )
    assert policy.allow_hosts == ("cdn.example.com",)
    tools = policy.tools
    assert tools.refusal("search_web") is None
    assert "not in the allowed tools" in (tools.refusal("delete_all") or "")
    assert "denied" in (tools.refusal("search_shell") or "")
    (schema,) = tools.schemas_for("http_get")
    assert schema.required == ("url",)
    assert schema.properties["url"].allow_hosts == ("a.example",)
    assert tools.schemas_for("pay")[0].properties["amount"].max_amount == Decimal("100.50")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"request": {"bank": "block"}}, "guard.request: unknown finding type 'bank'"),
        (
            {"request": {"email": "drop"}},
            "guard.request.email: action must be block, redact or log",
        ),
        ({"min_score": 2}, "guard.min_score must be between 0 and 1"),
        ({"tools": {"max_calls": -1}}, "guard.tools.max_calls must be an integer >= 0"),
        ({"tools": {"allow": "search"}}, "guard.tools.allow must be a list of strings"),
        ({"tools": {"args": {"x": {"type": "str"}}}}, "guard.tools.args.x.type: unknown JSON type"),
        ({"tools": {"args": {"x": {"maxlen": 3}}}}, "guard.tools.args.x: unknown key 'maxlen'"),
        ({"tools": {"args": {"x": {"path_prefixes": ["srv"]}}}}, "must be an absolute path"),
        ({"tool": {}}, "guard: unknown key 'tool'"),
        ({"request": []}, "guard.request must be a table"),
    ],
)
def test_errors_are_one_clear_line(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Policy.from_dict(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_layers_merge_account_key_model() -> None:
    """Later layers override what they set and inherit the rest."""
    account = {"request": {"pii": "redact"}, "tools": {"allow": ["search_*"], "max_calls": 5}}
    key = {"request": {"email": "log"}, "tools": {"max_calls": 2}}
    model = {"response": {"exfil_url": "block"}, "tools": {"args": {"search_*": {"maxLength": 9}}}}
    policy = merge_policies(account, key, None, model)
    assert policy.action("cn_mobile", "request") == "redact"
    assert policy.action("email", "request") == "log"
    assert policy.action("exfil_url", "response") == "block"
    assert policy.tools.allow == ("search_*",)
    assert policy.tools.max_calls == 2
    assert policy.tools.schemas_for("search_web")[0].max_length == 9


def test_policy_is_frozen() -> None:
    policy = Policy()
    with pytest.raises(AttributeError):
        policy.min_score = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.request["email"] = "block"  # type: ignore[index]
