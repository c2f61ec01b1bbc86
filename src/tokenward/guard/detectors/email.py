"""`email`: e-mail addresses with a dotted domain and an alphabetic top-level domain.

The pattern is anchored on "@" (a literal, so the regex engine skips ahead fast) and
the local part is read backwards from there. Not reported: retina asset names
(`logo@2x.png`), SSH remotes (`git@github.com:org/repo.git`), and hosts without a
dot (`user@localhost`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenward.guard.detectors.base import ScanContext
from tokenward.guard.findings import Finding, FindingType

_DOMAIN = re.compile(
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))"
    r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
)
_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
#: Top-level "domains" that are really file extensions (`icon@2x.png`, `a@b.js`).
_FILE_EXTENSIONS = frozenset(
    (
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff",
        "css", "js", "mjs", "ts", "tsx", "jsx", "json", "map", "yaml", "yml",
        "toml", "lock", "txt", "md", "py", "rb", "go", "rs", "java", "kt",
        "swift",
    )
)  # fmt: skip
_SSH_REMOTE = re.compile(r":[A-Za-z0-9_.~/-]")


class EmailDetector:
    """Finds e-mail addresses."""

    types: tuple[FindingType, ...] = ("email",)
    anchors: tuple[str, ...] = ()

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        if "@" not in text:
            return
        for m in _DOMAIN.finditer(text):
            at = m.start()
            local = _LOCAL.search(text, max(0, at - 64), at)
            if local is None:
                continue
            start = local.start()
            while start < at and text[start] in ".-+":
                start += 1  # a local part does not start with a dot or a dash
            if start == at or text[at - 1] == ".":
                continue
            if m.group(2).lower() in _FILE_EXTENSIONS:
                continue
            if _SSH_REMOTE.match(text, m.end()) and text[start:at] == "git":
                continue
            yield Finding("email", start, m.end(), 0.9, "e-mail address")


__all__ = ["EmailDetector"]
