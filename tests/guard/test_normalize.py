"""Folding look-alikes keeps a map back to the original offsets."""

from __future__ import annotations

import re

import pytest

from tokenward.guard.normalize import lower_text, normalize_text


@pytest.mark.parametrize(
    ("original", "folded"),
    [("手机１３８００１３８０００", "手机13800138000"), ("Ｉｇｎｏｒｅ", "Ignore"),
     ("𝐈𝐠𝐧𝐨𝐫𝐞 ①②", "Ignore 12"), ("pass\u200b\u200bword", "password"),
     ("ﬁle", "file"), ("你好，世界……", "你好，世界……")],
)  # fmt: skip
def test_folding(original: str, folded: str) -> None:
    assert normalize_text(original).text == folded


@pytest.mark.parametrize(
    "original", ["手机１３８００１３８０００号", "a\u200bb ﬁle ①２ x", "𝐈𝐠𝐧𝐨𝐫𝐞 \U000e0041end"]
)
def test_spans_map_back_to_the_original(original: str) -> None:
    """Every word of the folded text maps to the characters it came from."""
    norm = normalize_text(original)
    for m in re.finditer(r"\w+", norm.text):
        start, end = norm.span(m.start(), m.end())
        assert normalize_text(original[start:end]).text == m.group()


def test_full_width_digits_keep_their_offsets() -> None:
    original = "号码１３８００１３８０００。"
    norm = normalize_text(original)
    assert norm.span(2, 13) == (2, 13)
    assert original[2:13] == "１３８００１３８０００"


def test_ascii_is_returned_as_is() -> None:
    text = "plain ascii"
    norm = normalize_text(text)
    assert norm.text is text and not norm.changed and not norm.touched


def test_lower_keeps_length() -> None:
    assert len(lower_text("İstanbul ABC")) == len("İstanbul ABC")
