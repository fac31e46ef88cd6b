"""Long answers are split under Telegram's 4096-character limit, at natural boundaries."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app.telegram.text import TELEGRAM_LIMIT, split_text, utf16_len


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_short_text_is_one_message():
    assert split_text("  Bonjour  ") == ["Bonjour"]
    assert split_text("") == []


def test_long_text_splits_at_paragraphs_first():
    paragraphs = [f"Paragraphe {i}. " + "mot " * 300 for i in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(utf16_len(c) <= TELEGRAM_LIMIT for c in chunks)
    assert all(c.startswith("Paragraphe") for c in chunks)  # each chunk begins at a paragraph
    assert _squash("".join(chunks)) == _squash(text)


def test_arabic_splits_at_spaces_and_emoji_count_double():
    text = " ".join(["المعلومة"] * 1500)
    chunks = split_text(text)
    assert all(utf16_len(c) <= TELEGRAM_LIMIT for c in chunks)
    assert all(not c.startswith(" ") and "المعلومة" == c.split()[0] for c in chunks)
    emoji = "😀" * 3000  # 6000 UTF-16 units: Telegram counts 2 per emoji
    chunks = split_text(emoji)
    assert len(chunks) == 2 and all(utf16_len(c) <= TELEGRAM_LIMIT for c in chunks)
    assert "".join(chunks) == emoji


def test_text_without_any_space_is_cut_hard():
    text = "x" * 9000
    chunks = split_text(text)
    assert [len(c) for c in chunks] == [4096, 4096, 808]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab ج\n.😀é"), min_size=0, max_size=3000), st.integers(20, 500))
def test_split_keeps_every_character_and_respects_the_limit(text, limit):
    chunks = split_text(text, limit)
    assert all(0 < utf16_len(c) <= limit for c in chunks)
    assert _squash("".join(chunks)) == _squash(text)
