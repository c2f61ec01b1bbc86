"""Precision and recall of every detector on the labelled corpus; fails below the bar.

The corpus (`corpus/cases.jsonl`, built by `corpus/generate.py`) has labelled spans for
PII and secrets and a per-message label for prompt injection. A predicted span counts
as correct when it overlaps a labelled span of the same type; a label counts as found
when some prediction of its type overlaps it. Injection is judged per message: recall
over the injection cases, false-positive rate over every other case.

Run with `-s` to see the table.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.guard.corpus import generate
from tokenward.guard import PII_TYPES, SECRET_TYPES, Finding, Scanner

CORPUS = Path(__file__).parent / "corpus" / "cases.jsonl"
VALIDATED = {"precision": 0.99, "recall": 0.98}
SECRETS = {"precision": 0.95, "recall": 0.95}
OTHER = {"precision": 0.9, "recall": 0.9}  # invisible_text, exfil_url: not in the brief
INJECTION_RECALL = 0.80
INJECTION_FPR = 0.03


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def overlaps(a: dict[str, Any] | Finding, b: dict[str, Any] | Finding) -> bool:
    def span(x: dict[str, Any] | Finding) -> tuple[int, int]:
        return (x["start"], x["end"]) if isinstance(x, dict) else (x.start, x.end)

    (s1, e1), (s2, e2) = span(a), span(b)
    return s1 < e2 and s2 < e1


@pytest.fixture(scope="module")
def results(scanner: Scanner) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {}
    injection = Counter[str]()
    for case in load():
        found = scanner.scan(
            case["text"], role=case["role"], allow_hosts=case.get("allow_hosts", ())
        )
        labels = case["labels"]
        positive = any(label["type"] == "prompt_injection" for label in labels)
        flagged = any(f.type == "prompt_injection" for f in found)
        injection["pos" if positive else "neg"] += 1
        injection["tp" if positive and flagged else "fp" if flagged else "-"] += 1
        for label in labels:
            if label["type"] == "prompt_injection":
                continue
            c = counts.setdefault(label["type"], Counter())
            hit = any(f.type == label["type"] and overlaps(f, label) for f in found)
            c["found" if hit else "missed"] += 1
        for f in found:
            if f.type == "prompt_injection":
                continue
            c = counts.setdefault(f.type, Counter())
            right = any(lb["type"] == f.type and overlaps(f, lb) for lb in labels)
            c["right" if right else "wrong"] += 1
    return {"counts": counts, "injection": injection, "cases": len(load())}


def bar(type_: str) -> dict[str, float]:
    return VALIDATED if type_ in PII_TYPES else SECRETS if type_ in SECRET_TYPES else OTHER


def test_corpus_is_big_and_bilingual() -> None:
    cases = load()
    langs = Counter(c["lang"] for c in cases)
    assert len(cases) >= 300 and langs["zh"] >= 100 and langs["en"] >= 100
    assert sum("hard_negative" in c["tags"] for c in cases) >= 100


def test_corpus_file_matches_its_generator() -> None:
    """The committed corpus is exactly what the seeded generator writes."""
    assert generate.dump(generate.build()) == CORPUS.read_text(encoding="utf-8")


def test_precision_and_recall(results: dict[str, Any]) -> None:
    rows = []
    failures = []
    for type_, c in sorted(results["counts"].items()):
        predicted, labelled = c["right"] + c["wrong"], c["found"] + c["missed"]
        precision = c["right"] / predicted if predicted else 1.0
        recall = c["found"] / labelled if labelled else 1.0
        need = bar(type_)
        numbers = f"{precision:9.3f} {recall:7.3f} {labelled:7d} {c['wrong']:4d} {c['missed']:6d}"
        rows.append(f"{type_:26} {numbers}")
        if precision < need["precision"] or recall < need["recall"]:
            failures.append(f"{type_}: precision {precision:.3f}, recall {recall:.3f} < {need}")
    inj = results["injection"]
    recall = inj["tp"] / inj["pos"]
    fpr = inj["fp"] / inj["neg"]
    print(f"\ncorpus: {results['cases']} cases")
    print(f"{'detector':26} {'precision':>9} {'recall':>7} {'labels':>7} {'fp':>4} {'missed':>6}")
    print("\n".join(rows))
    print(f"{'prompt_injection':26} recall {recall:.3f} ({inj['tp']}/{inj['pos']}), "
          f"false-positive rate {fpr:.3f} ({inj['fp']}/{inj['neg']})")  # fmt: skip
    if recall < INJECTION_RECALL or fpr > INJECTION_FPR:
        failures.append(f"prompt_injection: recall {recall:.3f}, false-positive rate {fpr:.3f}")
    assert not failures, failures
