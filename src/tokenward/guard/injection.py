"""`prompt_injection`: heuristics for injections and jailbreaks, plus a classifier slot.

Each rule in `injection_rules` that matches contributes its weight for the source of
the text (direct: the user's own message; indirect: tool results and retrieved
content); weights combine as independent evidence, 1 - prod(1 - w). Text that talks
*about* injection (teaching, red-team reports, tests) is discounted, more so when the
attack phrase sits in quotes; an attacker can borrow that framing, which is the known
price of not flagging every security discussion.

Rules are anchored: a keyword pass finds where each could start and its pattern is
tried only there, so the cost follows the number of candidate phrases, not the number
of rules times the length of the text.

A locally supplied model can be plugged in through `InjectionClassifier`; its score
is combined with the heuristics by taking the larger. Nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from tokenward.guard.detectors.base import ScanContext
from tokenward.guard.findings import Finding, FindingType
from tokenward.guard.injection_rules import DISCUSSION, QUOTED, RULES, Rule
from tokenward.guard.keywords import KeywordIndex
from tokenward.guard.normalize import lower_text

#: Occurrences of one lead tried per rule: bounds the cost of a text that repeats a
#: common word thousands of times (a deliberate slowdown), at the price of missing a
#: phrase hidden after that many decoys.
MAX_TRIES = 256
#: Discount for text that discusses injection, and the extra one for a quoted phrase.
DISCUSSION_FACTOR = 0.5
QUOTED_FACTOR = 0.7

_DISCUSSION = re.compile(DISCUSSION)
_QUOTED = re.compile(QUOTED)


class InjectionClassifier(Protocol):
    """A local model that scores text for injection (0..1); `indirect` as in ScanContext."""

    name: str

    def score(self, text: str, *, indirect: bool) -> float: ...


class _Compiled:
    __slots__ = ("before", "cased", "pattern", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.cased = rule.cased
        leads = "|".join(_lead(w) for w in sorted(rule.leads, key=len, reverse=True))
        lead = f"(?i:{leads})" if rule.cased else f"(?:{leads})"
        self.pattern = re.compile(lead + rule.rest)
        self.before = re.compile(f"(?:{rule.before})\\Z") if rule.before else None


def _lead(word: str) -> str:
    body = re.escape(word).replace(r"\ ", r"\s+")
    return body + r"(?![a-z])" if word[-1].isascii() and word[-1].isalpha() else body


class InjectionDetector:
    """Scores a text for prompt injection; reports one finding per text that matched.

    The finding spans the first to the last matched phrase and names the rules that
    matched. Roles: "user" is direct, "tool" indirect; "system" (the operator's own
    prompt) and "assistant" (the model's output) are not scored.
    """

    types: tuple[FindingType, ...] = ("prompt_injection",)

    def __init__(
        self, rules: Sequence[Rule] = RULES, classifier: InjectionClassifier | None = None
    ) -> None:
        self._by_lead: dict[str, list[_Compiled]] = {}
        for rule in rules:
            compiled = _Compiled(rule)
            for lead in rule.leads:
                self._by_lead.setdefault(lead.lower(), []).append(compiled)
        self.anchors: tuple[str, ...] = tuple(self._by_lead)
        self._index = KeywordIndex(self.anchors)
        self._classifier = classifier

    def find(self, text: str, ctx: ScanContext) -> Iterator[Finding]:
        if ctx.role not in ("user", "tool"):
            return
        finding = self.assess(text, indirect=ctx.indirect, lower=ctx.lower, hits=ctx.hits)
        if finding is not None:
            yield finding

    def assess(
        self,
        text: str,
        *,
        indirect: bool,
        lower: str | None = None,
        hits: Mapping[str, list[int]] | None = None,
    ) -> Finding | None:
        """The injection finding for `text`, or None when nothing matched."""
        lower = lower if lower else lower_text(text)
        if hits is None:
            hits = self._index.find(lower)
        matched: dict[str, tuple[float, int, int]] = {}
        for lead, positions in hits.items():
            for compiled in self._by_lead.get(lead, ()):
                rule = compiled.rule
                weight = rule.indirect if indirect else rule.direct
                if rule.name in matched and matched[rule.name][0] >= weight:
                    continue
                span = self._match(compiled, text, lower, positions)
                if span is not None:
                    matched[rule.name] = (weight, *span)
        model = self._classifier.score(text, indirect=indirect) if self._classifier else 0.0
        if not matched and model <= 0.0:
            return None
        return self._finding(text, lower, matched, model, indirect)

    def _match(
        self, compiled: _Compiled, text: str, lower: str, positions: list[int]
    ) -> tuple[int, int] | None:
        subject = text if compiled.cased else lower
        for pos in positions[:MAX_TRIES]:
            if pos and lower[pos].isascii() and lower[pos].isalpha() and _is_letter(lower[pos - 1]):
                continue  # the lead is the tail of a longer word
            if compiled.before is not None:
                window = ("\n" if pos <= 16 else "") + text[max(0, pos - 16) : pos]
                if not compiled.before.search(window):
                    continue
            m = compiled.pattern.match(subject, pos)
            if m is not None:
                return m.start(), m.end()
        return None

    def _finding(
        self,
        text: str,
        lower: str,
        matched: dict[str, tuple[float, int, int]],
        model: float,
        indirect: bool,
    ) -> Finding:
        miss = 1.0
        for weight, _, _ in matched.values():
            miss *= 1.0 - weight
        score = 1.0 - miss
        notes: list[str] = []
        if matched and _DISCUSSION.search(lower):
            score *= DISCUSSION_FACTOR
            notes.append("discussion context")
            if _all_quoted(text, [(s, e) for _, s, e in matched.values()]):
                score *= QUOTED_FACTOR
                notes.append("quoted")
        if self._classifier is not None and model > score:
            score = model
            notes.append(f"classifier {self._classifier.name} {model:.2f}")
        start = min((s for _, s, _ in matched.values()), default=0)
        end = max((e for _, _, e in matched.values()), default=len(text))
        source = "indirect" if indirect else "direct"
        reason = f"{source} injection heuristics: {', '.join(sorted(matched)) or 'none'}"
        if notes:
            reason += f" ({'; '.join(notes)})"
        return Finding("prompt_injection", start, end, round(min(score, 1.0), 4), reason)


def _is_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _all_quoted(text: str, spans: list[tuple[int, int]]) -> bool:
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    return all(any(s <= start and end <= e for s, e in quoted) for start, end in spans)


__all__ = ["DISCUSSION_FACTOR", "QUOTED_FACTOR", "InjectionClassifier", "InjectionDetector"]
