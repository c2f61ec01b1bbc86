"""The guard's vocabulary: finding types, actions, and the `Finding` / `Verdict` values.

The finding type names are public: policies, reports, metrics and the audit log use
them verbatim, so they are spelled once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

FindingType = Literal[
    "cn_resident_id",
    "cn_mobile",
    "bank_card",
    "cn_uscc",
    "email",
    "ip_address",
    "secret_openai_key",
    "secret_anthropic_key",
    "secret_aws_access_key",
    "secret_aws_secret_key",
    "secret_aliyun_access_key",
    "secret_github_token",
    "secret_private_key",
    "secret_jwt",
    "secret_generic",
    "prompt_injection",
    "invisible_text",
    "exfil_url",
    "tool_not_allowed",
    "tool_arg_violation",
]
FINDING_TYPES: tuple[FindingType, ...] = get_args(FindingType)

#: Detectors whose candidates are validated by a checksum or a parser.
PII_TYPES: frozenset[FindingType] = frozenset(
    ("cn_resident_id", "cn_mobile", "bank_card", "cn_uscc", "email", "ip_address")
)
SECRET_TYPES: frozenset[FindingType] = frozenset(
    t for t in FINDING_TYPES if t.startswith("secret_")
)
TOOL_TYPES: frozenset[FindingType] = frozenset(("tool_not_allowed", "tool_arg_violation"))

#: What a policy does with a finding.
Action = Literal["block", "redact", "log"]
ACTIONS: tuple[Action, ...] = get_args(Action)

#: The outcome of inspecting one request or response.
Decision = Literal["allow", "redact", "block"]

#: Which way the traffic flows: client -> model ("request") or model -> client ("response").
Direction = Literal["request", "response"]

#: Chat roles; they decide whether injection heuristics treat text as direct or indirect.
Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = get_args(Role)

#: Placeholder that replaces a redacted span; "" removes it (invisible characters).
PLACEHOLDERS: Mapping[FindingType, str] = {
    "cn_resident_id": "[CN_ID_NUMBER]",
    "cn_mobile": "[CN_MOBILE]",
    "bank_card": "[BANK_CARD]",
    "cn_uscc": "[CN_USCC]",
    "email": "[EMAIL]",
    "ip_address": "[IP_ADDRESS]",
    **{t: "[SECRET]" for t in SECRET_TYPES},
    "prompt_injection": "[REMOVED_INSTRUCTIONS]",
    "invisible_text": "",
    "exfil_url": "[BLOCKED_URL]",
    "tool_not_allowed": "[BLOCKED_TOOL_CALL]",
    "tool_arg_violation": "[BLOCKED_TOOL_CALL]",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection: what, where (offsets into the original text), how sure, and why.

    `reason` never contains the matched value itself, so findings can be logged and
    written to the audit log as they are. `location` names the part of a request the
    offsets refer to (`messages[2].content`, `tools[0]`), empty for plain text.
    `action` is set once a policy has been applied.
    """

    type: FindingType
    start: int
    end: int
    score: float
    reason: str
    location: str = ""
    action: Action | None = None

    def at(self, location: str) -> Finding:
        """The same finding, placed at `location`."""
        return replace(self, location=location)

    def shifted(self, offset: int) -> Finding:
        """The same finding with its span moved by `offset` characters."""
        return replace(self, start=self.start + offset, end=self.end + offset)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: type, start, end, score, reason (+ location, action when set)."""
        out: dict[str, Any] = {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 3),
            "reason": self.reason,
        }
        if self.location:
            out["location"] = self.location
        if self.action is not None:
            out["action"] = self.action
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guard decided about one request or response.

    `redacted_messages` is the message list to forward (shallow copies; unchanged
    messages are equal to the input). `redacted_tools` is the same for the tool
    definitions of a request (None when there were none). `findings` carry the action
    each one drew.
    """

    action: Decision
    findings: tuple[Finding, ...] = ()
    redacted_messages: tuple[dict[str, Any], ...] = ()
    redacted_tools: tuple[dict[str, Any], ...] | None = None
    #: for `inspect_text`: the text with redactions applied
    redacted_text: str | None = None

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """The findings whose policy action is "block"."""
        return tuple(f for f in self.findings if f.action == "block")

    def reason(self) -> str:
        """One line for an error message or a log: the first blocking finding, or a count."""
        blocking = self.blocking
        if blocking:
            first = blocking[0]
            where = f" in {first.location}" if first.location else ""
            more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
            return f"blocked by guard policy: {first.type}{where}: {first.reason}{more}"
        if not self.findings:
            return "no findings"
        types = sorted({f.type for f in self.findings})
        return f"{len(self.findings)} finding(s): {', '.join(types)}"


__all__ = [
    "ACTIONS",
    "FINDING_TYPES",
    "PII_TYPES",
    "PLACEHOLDERS",
    "ROLES",
    "SECRET_TYPES",
    "TOOL_TYPES",
    "Action",
    "Decision",
    "Direction",
    "Finding",
    "FindingType",
    "Role",
    "Verdict",
]
