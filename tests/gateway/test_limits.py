"""Abuse limits: the sliding-window rate limiter and the check of incoming texts."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.app.limits import RateLimiter, check_text
from gateway.app.messages import MESSAGES, LANGS, guess_lang, say, ui_lang


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rate_limiter_allows_the_limit_then_refuses_with_the_wait():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [(await limiter.hit("s")).allowed for _ in range(3)] == [True, True, True]
    verdict = await limiter.hit("s")
    assert not verdict.allowed and verdict.retry_after == 60 and verdict.retry_seconds == 60
    clock.now += 20
    assert (await limiter.hit("s")).retry_seconds == 40


async def test_rate_limiter_window_slides_and_refusals_do_not_count():
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock)
    await limiter.hit("a")
    clock.now += 5
    await limiter.hit("a")
    for _ in range(5):  # refused: they do not extend the wait
        assert not (await limiter.hit("a")).allowed
    clock.now += 5.01  # the first event left the window
    assert (await limiter.hit("a")).allowed
    assert not (await limiter.hit("a")).allowed


async def test_rate_limiter_keys_are_independent_and_memory_is_bounded():
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock, max_keys=100)
    assert (await limiter.hit("ip-1")).allowed and (await limiter.hit("ip-2")).allowed
    assert not (await limiter.hit("ip-1")).allowed
    for i in range(1000):
        await limiter.hit(f"k{i}")
    assert len(limiter) <= 100
    clock.now += 11
    await limiter.hit("fresh")
    assert len(limiter) == 1  # idle keys swept


def test_check_text_accepts_and_strips_normal_text():
    assert check_text("  ou payer la cnss ?\n", 1000) == ("ou payer la cnss ?", None)
    assert check_text("ما هي مدة التدريب", 1000) == ("ما هي مدة التدريب", None)
    assert check_text("ligne 1\nligne 2\tfin", 1000)[1] is None


def test_check_text_refuses_empty_too_long_binary_and_huge():
    assert check_text("", 1000) == (None, "empty")
    assert check_text(" \n\t ", 1000) == (None, "empty")
    assert check_text("x" * 1001, 1000) == (None, "too_long")
    assert check_text("x" * 1000, 1000)[1] is None
    assert check_text("y" * 10_000_000, 1000) == (None, "too_long")
    assert check_text("abc\x00def", 1000) == (None, "not_text")
    assert check_text("\x89PNG\r\n\x1a\n", 1000) == (None, "not_text")
    assert check_text("bad \ud800 surrogate", 1000) == (None, "not_text")
    assert check_text("replacement \ufffd char", 1000) == (None, "not_text")
    assert check_text(b"bytes", 1000) == (None, "not_text")
    assert check_text(None, 1000) == (None, "not_text")
    assert check_text({"text": "x"}, 1000) == (None, "not_text")


@given(st.text(max_size=300))
def test_check_text_never_crashes_and_keeps_accepted_text_within_the_cap(text):
    clean, reason = check_text(text, 100)
    assert (clean is None) != (reason is None)
    if clean is not None:
        assert 0 < len(clean) <= 100 and clean == clean.strip()


def test_every_gateway_sentence_exists_in_french_arabic_and_english():
    for key, variants in MESSAGES.items():
        assert set(variants) == set(LANGS), key
    assert "1000" in say("too_long", "fr", length=1200, max=1000)
    assert say("too_fast", "ary", seconds=5).startswith("أرسلت")  # Darija falls back to Arabic
    assert say("empty", "de") == MESSAGES["empty"]["fr"]  # unknown: French


def test_language_helpers():
    assert [ui_lang(c) for c in ("ar", "ar-MA", "ary", "arq", "en-GB", "en", "fr-FR", "de", None)] == \
        ["ar", "ar", "ar", "ar", "en", "en", "fr", "fr", "fr"]
    assert guess_lang("فين نخلص") == "ar" and guess_lang("bonjour") is None
