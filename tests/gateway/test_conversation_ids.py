"""One Rasa conversation per channel user: two web sessions and two Telegram users make four
distinct Rasa conversations, and each keeps its own across messages."""
from __future__ import annotations

import httpx

from tests.gateway.conftest import GatewayServer, make_settings
from tests.gateway.fake_telegram import user
from tests.gateway.stubs import RecordingRasa
from tests.gateway.telegram_harness import telegram_gateway
from tests.gateway.test_web_socket import Chat


async def test_one_conversation_per_channel_user(rasa):
    recording = RecordingRasa(rasa.url, timeout=30)  # used by the web gateway, in its server's loop
    telegram_side = RecordingRasa(rasa.url, timeout=30)  # used in this test's loop
    telegram_side.sent = recording.sent  # one record of what reached Rasa, in order
    web = GatewayServer(lambda: make_settings(RASA_URL=rasa.url), rasa=recording).start()
    try:
        tokens = [httpx.post(f"{web.url}/api/session", json={"fund": "cnss_ma"}).json() for _ in range(2)]
        for session in tokens:
            async with Chat(web.url, session["token"]) as chat:
                await chat.until("bot", await chat.say("bonjour"), timeout=30)
            async with Chat(web.url, session["token"]) as chat:  # a new connection, same session
                await chat.until("bot", await chat.say("ou payer la cnss ?"), timeout=30)
        amina, karim = user(3001, "fr"), user(3002, "ar")
        async with telegram_gateway(telegram_side) as (telegram, _):
            for person in (amina, karim):
                await telegram.send_text(person, "bonjour")
                await telegram.wait_messages(person["id"], 1)
                await telegram.send_text(person, "ou payer la cnss ?")
                await telegram.wait_messages(person["id"], 1, since=1)  # the answer, its source within
    finally:
        web.stop()
        await telegram_side.aclose()

    senders = recording.senders()
    web_ids = [f"web:{s['session_id']}" for s in tokens]
    assert senders == [web_ids[0]] * 2 + [web_ids[1]] * 2 + ["tg:3001"] * 2 + ["tg:3002"] * 2
    assert len(set(senders)) == 4
    for conversation in [*web_ids, "tg:3001", "tg:3002"]:  # Rasa holds each as its own conversation
        assert rasa.user_texts(conversation) == ["bonjour", "ou payer la cnss ?"]
