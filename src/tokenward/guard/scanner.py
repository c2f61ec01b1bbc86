"""`Scanner`: every detector over one text, spans mapped back to the original.

Built once (patterns compiled, the fold table warmed) and shared: `scan()` keeps no
state between calls. A scan folds the text (see `normalize`), runs the data
detectors (PII and secrets), exfiltration and injection checks over the folded text
and the hidden-character check over the original, decodes suspicious Base64 / hex /
URL-encoded runs and rescans them, then resolves overlaps: where two data findings
claim the same characters, the more specific type wins (a key beats the generic
secret it sits in, a resident ID beats the card number it happens to look like).

Two shared passes feed the detectors, so the text is not walked once per pattern:
a keyword pass (`KeywordIndex`, Aho-Corasick) finds every anchor of every anchored
detector (key prefixes, secret field names, injection phrases, URL markers), and a
digit-run pass finds the only places where IDs, phones, cards, USCCs and IPv4 can
be. Patterns then run only at those places. One regex alternation of all patterns
was measured and rejected: CPython's `re` cannot skip ahead on a many-branch
pattern (milliseconds per 16 KB), and a match of one family would consume the
characters of another (an IP inside a URL, a phone number inside an e-mail).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import date

from tokenward.guard.decode import find_encoded
from tokenward.guard.detectors import data_detectors
from tokenward.guard.detectors.base import Detector, ScanContext, digit_runs
from tokenward.guard.detectors.exfil import ExfilUrlDetector
from tokenward.guard.detectors.invisible import InvisibleTextDetector, decode_tags
from tokenward.guard.findings import PII_TYPES, SECRET_TYPES, Finding, FindingType, Role
from tokenward.guard.injection import InjectionClassifier, InjectionDetector
from tokenward.guard.keywords import KeywordIndex
from tokenward.guard.normalize import _folding, lower_text, normalize_text

#: Which data finding keeps contested characters (earlier wins).
PRIORITY: tuple[FindingType, ...] = (
    "secret_private_key",
    "secret_anthropic_key",
    "secret_openai_key",
    "secret_github_token",
    "secret_aws_access_key",
    "secret_aliyun_access_key",
    "secret_jwt",
    "secret_aws_secret_key",
    "cn_resident_id",
    "cn_uscc",
    "bank_card",
    "email",
    "cn_mobile",
    "ip_address",
    "secret_generic",
)
_RANK = {t: i for i, t in enumerate(PRIORITY)}
_EXCLUSIVE = PII_TYPES | SECRET_TYPES
#: Findings inside decoded runs lose a little confidence: the decoding could be chance.
_DECODED_FACTOR = 0.95
#: How deep encodings inside encodings are followed.
MAX_DEPTH = 2


class Scanner:
    """All detectors, compiled once. `scan(text, role=...)` returns sorted findings.

    >>> scanner = Scanner()
    >>> [f.type for f in scanner.scan("my phone is 13800138000")]
    ['cn_mobile']
    """

    def __init__(
        self,
        *,
        min_score: float = 0.5,
        classifier: InjectionClassifier | None = None,
        latest_birth: date = date(2099, 12, 31),
        extra: Sequence[Detector] = (),
    ) -> None:
        _folding()  # build the fold table now, not on the first request
        self.min_score = min_score
        self._data = data_detectors(latest_birth)
        self._invisible = InvisibleTextDetector()
        self._exfil = ExfilUrlDetector()
        self._injection = InjectionDetector(classifier=classifier)
        self._extra = tuple(extra)
        # one keyword pass per scan serves every anchored detector
        detectors: list[Detector] = [*self._data, self._exfil, self._injection, *self._extra]
        self._index = KeywordIndex(a for d in detectors for a in d.anchors)
        self._data_index = KeywordIndex(a for d in self._data for a in d.anchors)

    @property
    def types(self) -> frozenset[FindingType]:
        """Every finding type this scanner can report."""
        detectors: list[Detector] = [*self._data, self._invisible, self._exfil, self._injection]
        return frozenset(t for d in (*detectors, *self._extra) for t in d.types)

    def _context(
        self, folded: str, role: Role, allow: frozenset[str], index: KeywordIndex
    ) -> ScanContext:
        lower = lower_text(folded)
        return ScanContext(
            role=role,
            allow_hosts=allow,
            lower=lower,
            hits=index.find(lower),
            runs=digit_runs(folded),
            subscan=self.scan_data,
        )

    def scan(
        self, text: str, *, role: Role = "user", allow_hosts: Iterable[str] = ()
    ) -> list[Finding]:
        """Findings at or above `min_score`, spans into `text`, ordered by position.

        `role` decides how injection is judged ("user": direct, "tool": indirect,
        "system" / "assistant": not judged); `allow_hosts` are hosts that markdown
        images and links may point at.
        """
        found = self._scan(text, role, frozenset(allow_hosts), depth=0)
        return sorted(_resolve(f for f in found if f.score >= self.min_score), key=_order)

    def scan_data(self, text: str) -> list[Finding]:
        """Only the PII and secret detectors (no decoding, no injection)."""
        norm = normalize_text(text)
        ctx = self._context(norm.text, "assistant", frozenset(), self._data_index)
        out = []
        for detector in self._data:
            for f in detector.find(norm.text, ctx):
                if f.score >= self.min_score:
                    start, end = norm.span(f.start, f.end)
                    out.append(Finding(f.type, start, end, f.score, f.reason))
        return _resolve(out)

    def _scan(self, text: str, role: Role, allow: frozenset[str], depth: int) -> list[Finding]:
        norm = normalize_text(text)
        folded = norm.text
        ctx = self._context(folded, role, allow, self._index)
        raw: list[Finding] = []
        for detector in (*self._data, self._exfil, *self._extra):
            raw.extend(detector.find(folded, ctx))
        found = [_mapped(f, norm.span(f.start, f.end)) for f in raw]
        if norm.touched:  # only then can the text hold invisible characters
            for f in self._invisible.find(text, ctx):
                found.append(f)
                hidden = decode_tags(text[f.start : f.end])
                if hidden and role in ("user", "tool"):
                    hit = self._injection.assess(hidden, indirect=ctx.indirect)
                    found.extend(_moved([hit] if hit else [], f.start, f.end, "tags"))
        injection = list(self._injection.find(folded, ctx))
        found.extend(_mapped(f, norm.span(f.start, f.end)) for f in injection)
        if depth < MAX_DEPTH:
            secrets = tuple((f.start, f.end) for f in raw if f.type in SECRET_TYPES)
            for run in find_encoded(folded, secrets):
                start, end = norm.span(run.start, run.end)
                inner = self._scan(run.text, role, allow, depth + 1)
                found.extend(_moved(inner, start, end, run.encoding))
        return found


def _mapped(f: Finding, span: tuple[int, int]) -> Finding:
    return Finding(f.type, span[0], span[1], f.score, f.reason)


def _moved(found: Iterable[Finding], start: int, end: int, how: str) -> list[Finding]:
    """Findings from decoded text, placed on the span of the encoded run."""
    out = []
    for f in found:
        if f.type == "invisible_text":
            continue
        out.append(
            Finding(f.type, start, end, f.score * _DECODED_FACTOR, f"{how}-encoded: {f.reason}")
        )
    return out


def _order(f: Finding) -> tuple[int, int, str]:
    return (f.start, f.end, f.type)


def _resolve(found: Iterable[Finding]) -> list[Finding]:
    """Drop duplicates and data findings that lose contested characters (see PRIORITY)."""
    found = list(found)
    kept: list[Finding] = []
    starts: list[int] = []  # starts of the kept spans, sorted (they never overlap)
    ends: list[int] = []
    data = sorted(
        (f for f in found if f.type in _EXCLUSIVE),
        key=lambda f: (_RANK.get(f.type, len(PRIORITY)), -(f.end - f.start), -f.score),
    )
    for f in data:
        i = bisect.bisect_left(starts, f.end)  # kept spans starting before f ends
        if i and ends[i - 1] > f.start:
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.append(f)
    others: dict[tuple[FindingType, int, int], Finding] = {}
    for f in found:
        if f.type in _EXCLUSIVE:
            continue
        key = (f.type, f.start, f.end)
        if key not in others or others[key].score < f.score:
            others[key] = f
    return kept + list(others.values())


__all__ = ["MAX_DEPTH", "PRIORITY", "Scanner"]
