"""API keys, tokens and private keys: vendor formats validated, plus high-entropy values.

Vendor formats (OpenAI, Anthropic, AWS, Aliyun, GitHub, JWT, PEM) start with fixed
prefixes ("sk-", "AKIA", "eyJ", "-----BEGIN"...): the scanner's keyword pass finds
them, and each format's pattern is tried only there, then validated (entropy, a
decodable JWT header, a key body of real length).
`secret_aws_secret_key` needs an AWS context, and `secret_generic` a context word
("password", "secret", "token", "密码", "密钥"...) and a value that looks random.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator

from tokenward.guard.detectors.base import (
    TOKEN_END,
    TOKEN_START,
    ScanContext,
    char_classes,
    shannon_entropy,
)
from tokenward.guard.findings import Finding, FindingType

# Every repetition is bounded: a pattern is tried at each anchor, and an unbounded one
# would make "sk-sk-sk-..." cost the square of its length.
_ANTHROPIC = re.compile(
    TOKEN_START + r"sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_\-]{32,300}" + TOKEN_END
)
_OPENAI = re.compile(
    TOKEN_START + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,300}" + TOKEN_END
)
_GITHUB = re.compile(
    TOKEN_START + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255})" + TOKEN_END
)
_AWS = re.compile(TOKEN_START + r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}" + TOKEN_END)
_ALIYUN = re.compile(TOKEN_START + r"LTAI[A-Za-z0-9]{12,30}" + TOKEN_END)
_JWT = re.compile(
    TOKEN_START
    + r"ey[A-Za-z0-9_\-]{8,2048}\.ey[A-Za-z0-9_\-]{8,8192}\.[A-Za-z0-9_\-]{0,2048}"
    + TOKEN_END
)
_PEM = re.compile(
    r"-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
)
_PEM_BODY = re.compile(r"(?:[ \t]*[\r\n]+[ \t]*(?:[A-Za-z0-9+/=]{8,}|[A-Za-z-]+:[^\n]*))+")
_B64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
#: Longest private-key block looked for (an 8192-bit RSA key is about 6.5 KB).
_PEM_MAX = 16384
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_ANCHORS = ("aws", "akia", "asia", "secret_access_key", "secretaccesskey", "secret access key")
_HEX = re.compile(r"[0-9a-fA-F]+")

#: Field names that announce a secret (anchors, lower-case) and the value pattern.
_KEY_WORDS = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "api-key",
    "apikey", "access_key", "access-key", "accesskey", "private_key", "private-key",
    "credential", "auth_key", "auth-key", "signing_key", "signing-key",
    "密钥", "秘钥", "密码", "口令", "令牌",
)  # fmt: skip
_GENERIC = re.compile(
    r"(?P<key>(?:密钥|秘钥|密码|口令|令牌)?[A-Za-z0-9_.\-]*)[\"']?[ \t]*(?:=>|[:=：]|是|为)[ \t]*"
    r"[\"'`]?(?P<value>[^\s\"'`,;，。；<>]{8,128})",
    re.IGNORECASE,
)
#: `mysql -p'secret'`: the password glued to the flag.
_MYSQL = re.compile(r"(?<!\S)(?P<key>-p)[\"'](?P<value>[^\s\"'`,;<>]{8,128})")
_CODE_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*[(\[]|^[$%{<]")
_PLACEHOLDER = re.compile(
    r"your|example|here|xxxx|\*\*\*|changeme|change_me|replace|placeholder|dummy|redacted|"
    r"\.\.\.|<|>|^[A-Z_]+$|^(?:true|false|null|none|undefined|required|optional|string)$",
    re.IGNORECASE,
)


def _b64json(part: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (ValueError, binascii.Error):
        return None


def _random_enough(body: str, min_entropy: float = 3.0) -> bool:
    return shannon_entropy(body) >= min_entropy and char_classes(body) >= 2


def _openai(m: re.Match[str]) -> Finding | None:
    value = m.group()
    body = value.split("-", 2)[-1] if value.count("-") >= 2 else value[3:]
    if not _random_enough(body, 3.5) or not any(c.isdigit() for c in body):
        return None
    score = 0.99 if "T3BlbkFJ" in value else 0.9
    return Finding("secret_openai_key", m.start(), m.end(), score, "OpenAI-style API key (sk-)")


def _anthropic(m: re.Match[str]) -> Finding | None:
    body = m.group().split("-", 3)[-1]  # after "sk-ant-api03-"
    if not _random_enough(body, 3.5):
        return None
    return Finding("secret_anthropic_key", m.start(), m.end(), 0.99, "Anthropic API key (sk-ant-)")


def _github(m: re.Match[str]) -> Finding | None:
    if not _random_enough(m.group()[4:], 3.5):
        return None
    return Finding("secret_github_token", m.start(), m.end(), 0.99, "GitHub token")


def _aws(m: re.Match[str]) -> Finding | None:
    if len(set(m.group()[4:])) < 8:
        return None
    kind = "temporary (STS) " if m.group().startswith("ASIA") else ""
    reason = f"AWS {kind}access key ID"
    return Finding("secret_aws_access_key", m.start(), m.end(), 0.95, reason)


def _aliyun(m: re.Match[str]) -> Finding | None:
    if not _random_enough(m.group()[4:], 3.0):
        return None
    return Finding(
        "secret_aliyun_access_key", m.start(), m.end(), 0.95, "Alibaba Cloud AccessKey ID"
    )


def _jwt(m: re.Match[str]) -> Finding | None:
    header_part, payload_part, _ = m.group().split(".", 2)
    header = _b64json(header_part)
    if not isinstance(header, dict) or "alg" not in header:
        return None
    score = 0.97 if isinstance(_b64json(payload_part), dict) else 0.85
    alg = str(header["alg"])[:10]
    return Finding("secret_jwt", m.start(), m.end(), score, f"JSON Web Token (alg {alg})")


def _pem(m: re.Match[str]) -> Finding | None:
    kind = m.group("kind")
    text = m.string
    end_marker = f"-----END {kind}-----"
    close = text.find(end_marker, m.end(), m.end() + _PEM_MAX)
    unfinished = False
    if close != -1:
        body = text[m.end() : close]
        end = close + len(end_marker)
    else:  # a truncated block, or a stream that has not delivered the rest yet
        run = _PEM_BODY.match(text, m.end(), m.end() + _PEM_MAX)
        body = run.group() if run else ""
        end = run.end() if run else m.end()
        rest = text[end:]
        head, _, last = rest.rpartition("\n")
        last = last.strip()
        if not head.strip() and (
            not last or _B64_LINE.fullmatch(last) or end_marker.startswith(last)
        ):
            end, unfinished = len(text), True  # a body line or the END line is still arriving
    material = sum(len(t) for t in re.findall(r"[A-Za-z0-9+/=]{16,}", body))
    if material < 64 and not unfinished:
        return None
    reason = f"{kind.title()} block" + ("" if close != -1 else " (no END line yet)")
    return Finding("secret_private_key", m.start(), end, 0.99, reason)


Validator = Callable[[re.Match[str]], Finding | None]
#: Anchor (lower-case) -> the patterns that may start there, tried in order.
_VENDOR_ANCHORS: dict[str, tuple[tuple[re.Pattern[str], Validator], ...]] = {
    "sk-": ((_ANTHROPIC, _anthropic), (_OPENAI, _openai)),
    **{p: ((_AWS, _aws),) for p in ("akia", "asia", "abia", "acca")},
    "ltai": ((_ALIYUN, _aliyun),),
    **{p: ((_GITHUB, _github),) for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")},
    "eyj": ((_JWT, _jwt),),
    "-----begin ": ((_PEM, _pem),),
}


class SecretsDetector:
    """Vendor keys, tokens, private keys, AWS secret keys and generic secrets."""

    types: tuple[FindingType, ...] = (
        "secret_openai_key",
        "secret_anthropic_key",
        "secret_aws_access_key",
        "secret_aws_secret_key",
        "secret_aliyun_access_key",
        "secret_github_token",
        "secret_private_key",
        "secret_jwt",
        "secret_generic",
    )
    anchors: tuple[str, ...] = (
        *_VENDOR_ANCHORS,
        *_AWS_ANCHORS,
        *_KEY_WORDS,
        "-p'",
        '-p"',
    )

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for anchor, checks in _VENDOR_ANCHORS.items():
            covered = -1  # anchors inside the last match are part of it
            for start in (ctx.hits or {}).get(anchor, ()):
                if start < covered:
                    continue
                for pattern, validate in checks:
                    m = pattern.match(text, start)
                    if m is not None:
                        covered = m.end()
                        finding = validate(m)
                        if finding is not None:
                            yield finding
                        break
        aws = ctx.starts(_AWS_ANCHORS)
        if aws:
            yield from self._aws_secret(text, aws)
        yield from self._generic(text, ctx)

    def _aws_secret(self, text: str, contexts: list[int]) -> Iterator[Finding]:
        seen: set[int] = set()
        for context in contexts:
            for m in _AWS_SECRET.finditer(text, context, min(len(text), context + 200)):
                value = m.group()
                if m.start() in seen or _HEX.fullmatch(value):
                    continue
                if char_classes(value) < 3 or shannon_entropy(value) < 4.0:
                    continue
                seen.add(m.start())
                reason = "40-character AWS secret access key in an AWS context"
                yield Finding("secret_aws_secret_key", m.start(), m.end(), 0.9, reason)

    def _generic(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        seen: set[int] = set()
        for start in ctx.starts(_KEY_WORDS):
            m = _GENERIC.match(text, start)
            if m is not None and m.start("value") not in seen:
                seen.add(m.start("value"))
                finding = _generic_value(text, m)
                if finding is not None:
                    yield finding
        for start in ctx.starts(("-p'", '-p"')):
            m = _MYSQL.match(text, start)
            if m is not None:
                finding = _generic_value(text, m)
                if finding is not None:
                    yield finding


def _generic_value(text: str, m: re.Match[str]) -> Finding | None:
    value = m.group("value").rstrip(").]}")
    if m.start() > 0 and text[m.start() - 1] in "?&":
        value = value.split("&", 1)[0]  # a URL query parameter ends at "&"
    if len(value) < 8 or not value.isascii():
        return None
    if _CODE_LIKE.search(value) or _PLACEHOLDER.search(value):
        return None
    entropy = shannon_entropy(value)
    if entropy < 3.0 or char_classes(value) < 2:
        return None
    score = 0.9 if entropy >= 3.5 else 0.75
    start = m.start("value")
    reason = f"high-entropy value ({entropy:.1f} bits/char) after '{m.group('key')[:40]}'"
    return Finding("secret_generic", start, start + len(value), score, reason)


__all__ = ["SecretsDetector"]
