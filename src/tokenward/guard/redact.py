"""Replace findings with typed placeholders, in whole texts and in streams.

`redact()` works on a complete text. `StreamRedactor` works on a stream of chunks
(SSE deltas): it emits text as soon as no pattern could still be completed by the
next chunk, and holds back only the tail that could (the trailing run of characters
a secret, number or URL is made of, or an unfinished finding), bounded by
`max_hold`. A secret split across two chunks is therefore never emitted in part.

If a single finding outgrows `max_hold` (an endless Base64 run, a private key longer
than the bound), the redactor emits the placeholder and then drops text until the
finding ends, so a long secret never leaks either; the cost is that text after an
unterminated block is withheld until the stream ends.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from tokenward.guard.findings import PLACEHOLDERS, Finding, FindingType, Role
from tokenward.guard.scanner import Scanner

#: Characters a detectable token is made of (ASCII printables and full-width forms).
_TOKEN_CHAR = re.compile(r"[!-~\uff01-\uff5e\u200b-\u200d\u2060\ufeff\U000e0000-\U000e007f]")
_PEM_END = re.compile(r"-----END [A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
_LONGEST_PEM_END = len("-----END ENCRYPTED PRIVATE KEY BLOCK-----")


def redact_text(
    text: str, findings: Iterable[Finding], types: Collection[FindingType] | None = None
) -> str:
    """`text` with each finding (of `types`, default all) replaced by its placeholder.

    Overlapping findings are merged and take the placeholder of the first one.
    >>> redact_text("call 13800138000", [Finding("cn_mobile", 5, 16, 0.9, "")])
    'call [CN_MOBILE]'
    """
    spans = sorted((f.start, f.end, f.type) for f in findings if types is None or f.type in types)
    out: list[str] = []
    pos = 0
    for start, end, type_ in spans:
        if end <= pos:
            continue
        if start >= pos:
            out.append(text[pos:start])
            out.append(PLACEHOLDERS[type_])
        pos = max(pos, end)
    out.append(text[pos:])
    return "".join(out)


def hold_start(text: str, max_hold: int) -> int:
    """Where the tail that the next chunk could still extend begins.

    The tail is the trailing run of token characters, widened backwards over digit
    groups joined by single spaces or hyphens ("138 0013 ", "+86 "), or from a PEM
    header on the last line.
    """
    floor = max(0, len(text) - max_hold)
    header = text.rfind("-----BEGIN", max(text.rfind("\n", floor) + 1, floor))
    if header != -1:
        return header  # a PEM header still arriving: its words are split by spaces
    i = len(text)
    while i > floor and _TOKEN_CHAR.match(text, i - 1):
        i -= 1
    while i - 2 >= floor and text[i - 1] in " -" and (text[i - 2].isdigit() or text[i - 2] in "+)"):
        i -= 1
        while i > floor and (text[i - 1].isdigit() or text[i - 1] in "+()"):
            i -= 1
    return i


class StreamRedactor:
    """Redacts a stream chunk by chunk: `feed()` each chunk, then `flush()` once.

    `redact` are the finding types to replace; `block` types are replaced too and
    set `blocked`, so the caller can end the stream. `findings` lists everything
    seen, with offsets into the whole stream as received.

    >>> r = StreamRedactor(Scanner(), redact={"secret_openai_key"})
    >>> key = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV"
    >>> r.feed("my key is " + key[:12]) + r.feed(key[12:] + " ok") + r.flush()
    'my key is [SECRET] ok'
    """

    def __init__(
        self,
        scanner: Scanner,
        *,
        redact: Collection[FindingType] = (),
        block: Collection[FindingType] = (),
        role: Role = "assistant",
        allow_hosts: Iterable[str] = (),
        max_hold: int = 4096,
        context: int = 256,
    ) -> None:
        self._scanner = scanner
        self._act = frozenset(redact) | frozenset(block)
        self._block = frozenset(block)
        self._role: Role = role
        self._allow = tuple(allow_hosts)
        self._max_hold = max_hold
        self._context = context
        self._pending = ""
        self._tail = ""  # the last `context` characters already passed on (for context)
        self._consumed = 0  # characters of the stream passed on or dropped so far
        self._suppress: FindingType | None = None
        self._placed: set[tuple[FindingType, int]] = set()
        self._findings: dict[tuple[FindingType, int], Finding] = {}
        self.blocked = False

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding so far, in stream order, offsets into the stream."""
        return tuple(sorted(self._findings.values(), key=lambda f: (f.start, f.type)))

    def feed(self, chunk: str) -> str:
        """Take the next chunk; return the text that is now safe to pass on."""
        self._pending += chunk
        if self._suppress is not None and not self._skip_suppressed():
            return ""
        return self._drain(final=False)

    def flush(self) -> str:
        """End of stream: return everything still held, redacted."""
        if self._suppress is not None:
            self._consume_dropped(len(self._pending))
            return ""
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> str:
        text = self._tail + self._pending
        base = len(self._tail)
        found = [
            f
            for f in self._scanner.scan(text, role=self._role, allow_hosts=self._allow)
            if f.end > base
        ]
        cut = len(text)
        forced = False
        if not final:
            cut = hold_start(text, self._max_hold)
            for f in found:
                if f.type in self._act and f.end > cut:
                    cut = min(cut, f.start)  # an unfinished finding may still grow
            cut = max(cut, base)
            if len(text) - cut > self._max_hold:
                cut, forced = len(text) - self._max_hold, True
        out = self._emit(text, base, cut, found)
        if forced:
            open_finding = next(
                (f for f in found if f.start < cut < f.end and f.type in self._act), None
            )
            if open_finding is not None:
                self._suppress = open_finding.type
        self._advance(text[base:cut])
        self._pending = text[cut:]
        if self._suppress is not None:
            self._skip_suppressed()
        return out

    def _emit(self, text: str, base: int, cut: int, found: list[Finding]) -> str:
        out: list[str] = []
        pos = base
        for f in sorted(found, key=lambda f: f.start):
            if f.start >= cut:
                continue
            key = (f.type, self._consumed + f.start - base)
            self._findings.setdefault(
                key, Finding(f.type, key[1], key[1] + f.end - f.start, f.score, f.reason)
            )
            if f.type not in self._act:
                continue
            self.blocked = self.blocked or f.type in self._block
            start, end = max(f.start, pos), min(f.end, cut)
            if end <= start:
                continue
            out.append(text[pos:start])
            if key not in self._placed:
                out.append(PLACEHOLDERS[f.type])
                self._placed.add(key)
            pos = end
        out.append(text[pos:cut])
        return "".join(out)

    def _advance(self, passed: str) -> None:
        self._consumed += len(passed)
        self._tail = (self._tail + passed)[-self._context :]

    def _consume_dropped(self, n: int) -> None:
        self._consumed += n
        self._tail = ""  # what follows a dropped secret must not see its remains
        self._pending = self._pending[n:]

    def _skip_suppressed(self) -> bool:
        """Drop the rest of an over-long finding; True once it has ended."""
        if self._suppress == "secret_private_key":
            m = _PEM_END.search(self._pending)
            if m is None:
                self._consume_dropped(max(0, len(self._pending) - _LONGEST_PEM_END))
                return False
            self._consume_dropped(m.end())
        else:
            i = 0
            while i < len(self._pending) and _TOKEN_CHAR.match(self._pending, i):
                i += 1
            self._consume_dropped(i)
            if i == len(self._pending):
                return False
        self._suppress = None
        return True


__all__ = ["StreamRedactor", "hold_start", "redact_text"]
