"""The audit log: append-only and hash-chained, so tampering is visible.

Admin actions (keys, accounts, plans, prices, policies) and guard decisions are
appended through `AuditLog`; `AuditLog.verify()` (and `tokenward audit verify`)
walks the chain and names the first record that was edited, removed or reordered.
Details record what, where and which rule, never the secret itself
(`audit.details`); the hash format is fixed in `audit.encoding`.
"""

from tokenward.audit.chain import PAGE_SIZE, AuditLog, AuditRecord, VerifyResult
from tokenward.audit.details import (
    SENSITIVE_KEYS,
    GuardSecretCheck,
    SecretCheck,
    scrub_details,
)
from tokenward.audit.encoding import GENESIS_HASH, canonical_json, record_hash

__all__ = [
    "GENESIS_HASH",
    "PAGE_SIZE",
    "SENSITIVE_KEYS",
    "AuditLog",
    "AuditRecord",
    "GuardSecretCheck",
    "SecretCheck",
    "VerifyResult",
    "canonical_json",
    "record_hash",
    "scrub_details",
]
