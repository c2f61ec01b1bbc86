"""The runtime guard: DLP detectors, injection heuristics, redaction, tool-call policy.

Pure (layer 0): no I/O, no web framework, standard library only. The proxy calls
`inspect_messages` on a request before admission and on a response before relay,
and wraps streamed output in a `StreamRedactor`; `Scanner` is built once at start-up
and shared. Finding type names (`FINDING_TYPES`) are the public vocabulary of
policies, metrics and the audit log.
"""

from tokenward.guard.findings import (
    ACTIONS,
    FINDING_TYPES,
    PII_TYPES,
    PLACEHOLDERS,
    SECRET_TYPES,
    TOOL_TYPES,
    Action,
    Decision,
    Direction,
    Finding,
    FindingType,
    Role,
    Verdict,
)
from tokenward.guard.injection import InjectionClassifier
from tokenward.guard.inspect import default_scanner, inspect_messages, inspect_text
from tokenward.guard.normalize import NormalizedText, normalize_text
from tokenward.guard.policy import ArgSchema, Policy, ToolPolicy, merge_policies
from tokenward.guard.redact import StreamRedactor, redact_text
from tokenward.guard.scanner import Scanner
from tokenward.guard.tools import check_tool_calls, check_tool_definitions

__all__ = [
    "ACTIONS",
    "FINDING_TYPES",
    "PII_TYPES",
    "PLACEHOLDERS",
    "SECRET_TYPES",
    "TOOL_TYPES",
    "Action",
    "ArgSchema",
    "Decision",
    "Direction",
    "Finding",
    "FindingType",
    "InjectionClassifier",
    "NormalizedText",
    "Policy",
    "Role",
    "Scanner",
    "StreamRedactor",
    "ToolPolicy",
    "Verdict",
    "check_tool_calls",
    "check_tool_definitions",
    "default_scanner",
    "inspect_messages",
    "inspect_text",
    "merge_policies",
    "normalize_text",
    "redact_text",
]
