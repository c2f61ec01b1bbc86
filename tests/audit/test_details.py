"""Details are JSON and never a secret: refused at append time, not found in the log later."""

from __future__ import annotations

from typing import Any

import pytest

from tokenward.audit import SENSITIVE_KEYS, GuardSecretCheck, scrub_details
from tokenward.audit.details import clean_details
from tokenward.guard import Scanner

#: built once: the default check's scanner takes ~70 ms to compile
CHECK = GuardSecretCheck(Scanner())
OPENAI_KEY = "sk-proj-" + "Q7xk2L9mZp4RvT8nWc3YhB6dFj1sGa5e" + "Ku0iOo"
TOKENWARD_KEY = "tw-" + "g4x674ATn4LD0n0eicOhPnnjhsFuET7KrzZVRGMz4Lk"


def test_safe_details_pass_through_as_json() -> None:
    details = {
        "findings": [
            {"type": "secret_openai_key", "start": 10, "end": 61, "score": 0.99},
            {"type": "cn_resident_id", "location": "messages[2].content", "action": "redact"},
        ],
        "rule": ("account", "acme"),
        "key_prefix": TOKENWARD_KEY[:11],
        "ratio": 0.5,
        "enabled": None,
    }
    cleaned = clean_details(details, CHECK)
    assert cleaned["rule"] == ["account", "acme"]
    assert cleaned["findings"] == details["findings"]
    assert clean_details(None, CHECK) == {}


@pytest.mark.parametrize(
    ("details", "kind"),
    [
        ({"note": f"leaked {OPENAI_KEY}"}, "secret_openai_key"),
        ({"nested": [{"k": "AKIAIOSFODNN7EXAMPLE"}]}, "secret_aws_access_key"),
        ({"issued": TOKENWARD_KEY}, "tokenward_key"),
        ({"id_number": "11010519491231002X"}, "cn_resident_id"),
        ({OPENAI_KEY: 1}, "secret_openai_key"),
    ],
)
def test_strings_that_look_like_secrets_are_refused(details: dict[str, Any], kind: str) -> None:
    with pytest.raises(ValueError, match=kind):
        clean_details(details, CHECK)


@pytest.mark.parametrize("key", sorted(SENSITIVE_KEYS))
def test_raw_content_fields_are_refused_at_any_depth(key: str) -> None:
    with pytest.raises(ValueError, match="raw content"):
        clean_details({"findings": [{"type": "email", key: "x"}]}, CHECK)


@pytest.mark.parametrize(
    "details",
    [{"x": float("inf")}, {"x": b"bytes"}, {"x": {1: "int key"}}, {"x": object()}],
)
def test_non_json_values_are_refused(details: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        clean_details(details, CHECK)


def test_scrub_drops_raw_content_fields_everywhere() -> None:
    finding = {"type": "email", "start": 3, "end": 9, "text": "a@b.cn", "Value": "a@b.cn"}
    scrubbed = scrub_details({"findings": [finding], "match": "x", "rule": "block-pii"})
    assert scrubbed == {"findings": [{"type": "email", "start": 3, "end": 9}], "rule": "block-pii"}
    assert clean_details(scrubbed, CHECK) == scrubbed
