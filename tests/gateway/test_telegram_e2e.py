"""Telegram end to end: the real python-telegram-bot Application (long polling) against the Bot
API stand-in, and the real trained assistant (Rasa + action server) behind the gateway."""
from __future__ import annotations

import re

import pytest

from gateway.app.messages import MESSAGES
from tests.gateway.fake_telegram import user
from tests.gateway.stubs import RecordingRasa
from tests.gateway.telegram_harness import telegram_gateway

ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture
async def recording(rasa):
    client = RecordingRasa(rasa.url, timeout=30)
    yield client
    await client.aclose()


async def test_start_greets_in_the_users_telegram_language(recording):
    users = {"fr": user(2001, "fr"), "ar": user(2002, "ar"), "en": user(2003, "en-GB")}
    async with telegram_gateway(recording) as (telegram, _):
        for person in users.values():
            await telegram.send_text(person, "/start")
        greetings = {lang: (await telegram.wait_messages(person["id"], 1))[0]["text"]
                     for lang, person in users.items()}
    assert greetings["fr"].startswith("Bonjour") and "Sanad" in greetings["fr"]
    assert greetings["ar"].startswith("مرحبا") and "سند" in greetings["ar"]
    assert greetings["en"].startswith("Hello") and "Sanad" in greetings["en"]


async def test_faq_clarification_inline_keyboard_and_callback(recording, clarifying_message):
    karim = user(2010, "ar", "Karim")
    async with telegram_gateway(recording) as (telegram, _):
        await telegram.send_text(karim, clarifying_message)
        [question] = await telegram.wait_messages(karim["id"], 1)
        buttons = [row[0] for row in question["reply_markup"]["inline_keyboard"]]
        assert len(buttons) >= 2
        assert buttons[0]["callback_data"].startswith("/choose_topic")
        await telegram.press(karim, telegram.chat(karim["id"])[0], buttons[0]["callback_data"])
        await telegram.wait_for(lambda: len(telegram.chat(karim["id"])) >= 2)
        assert telegram.sent("answerCallbackQuery")
        assert telegram.sent("editMessageText")[0]["text"].endswith("✔ " + buttons[0]["text"])
        answer = telegram.chat(karim["id"])[1:]
    assert answer and all(len(m["text"]) <= 4096 for m in answer)
    assert [text for _, text, _ in recording.sent] == [clarifying_message, buttons[0]["callback_data"]]


async def test_language_switch_changes_the_answer_language(recording):
    amina = user(2020, "fr")
    async with telegram_gateway(recording) as (telegram, _):
        await telegram.send_text(amina, "ou payer la cnss ?")
        first = await telegram.wait_messages(amina["id"], 1)  # the answer and its source, one message
        assert first[0]["text"].startswith("Vous pouvez payer") and "\n\nSource" in first[0]["text"]
        await telegram.send_text(amina, "/langue")
        prompt = (await telegram.wait_messages(amina["id"], 1, since=len(first)))[0]
        await telegram.press(amina, telegram.chat(amina["id"])[-1], "lang:ar")
        await telegram.wait_for(lambda: telegram.sent("editMessageText"))
        count = len(telegram.chat(amina["id"]))
        await telegram.send_text(amina, "ou payer la cnss ?")
        again = await telegram.wait_messages(amina["id"], 1, since=count)
    assert prompt["text"] == MESSAGES["lang_prompt"]["fr"]
    assert ARABIC.search(again[0]["text"]) and again[-1]["text"].rsplit("\n\n", 1)[1].startswith("المصدر")
    assert recording.sent[-1][2] == {"fund": "cnss_ma", "channel": "telegram", "lang": "ar"}


async def test_contact_sharing_own_contact_forwarded_someone_elses_refused(recording):
    amina = user(2030, "fr")
    async with telegram_gateway(recording) as (telegram, _):
        await telegram.send_contact(amina, "+212600000555", contact_user_id=4040)
        [refusal] = await telegram.wait_messages(amina["id"], 1)
        assert refusal["text"] == MESSAGES["contact_refused"]["fr"]
        assert recording.sent == []
        await telegram.send_contact(amina, "212600000101", contact_user_id=amina["id"])
        await telegram.wait_messages(amina["id"], 1, since=1)  # Rasa's reply, whatever the flow says
    assert recording.sent == [("tg:2030", "/share_contact",
                               {"fund": "cnss_ma", "channel": "telegram", "shared_phone": "+212600000101"})]
