"""The Telegram channel with python-telegram-bot against the Bot API stand-in and a scripted
Rasa: keyboards, language switch, contact sharing, limits, outages, webhook secret."""
from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import telegram.error

from gateway.app.messages import MESSAGES
from gateway.app.telegram.keyboards import CallbackKeys
from tests.gateway.fake_telegram import user
from tests.gateway.stubs import LONG_PAYLOAD, ScriptedRasa, answer, clarify, faq_answer
from tests.gateway.telegram_harness import telegram_gateway

AMINA = user(1001, "fr", "Amina")
KARIM = user(1002, "ar", "Karim")


def asgi_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_polling_uses_the_stand_in_and_drops_the_webhook():
    async with telegram_gateway(ScriptedRasa()) as (telegram, _):
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        assert telegram.sent("getMe") and telegram.sent("deleteWebhook")


async def test_rasa_buttons_become_inline_keyboards_with_short_keys_for_long_payloads():
    rasa = ScriptedRasa(script=lambda s, t, m: clarify("fr") if t == "ou payer" else answer("Réponse."))
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(AMINA, "ou payer")
        [question] = await telegram.wait_messages(AMINA["id"], 1)
        rows = question["reply_markup"]["inline_keyboard"]
        data = [row[0]["callback_data"] for row in rows]
        assert data[0] == '/choose_topic{"topic":"payment_channels"}'  # fits: the payload itself
        assert data[1].startswith("k:") and len(data[1].encode()) <= 64  # too long: a key
        assert data[2] == "/human_handoff"
        bot_message = telegram.chat(AMINA["id"])[0]
        await telegram.press(AMINA, bot_message, data[1])
        await telegram.wait_messages(AMINA["id"], 2)
        assert telegram.sent("answerCallbackQuery")
        [edit] = telegram.sent("editMessageText")
        assert edit["text"].endswith("✔ " + rows[1][0]["text"]) and "reply_markup" not in edit
    assert rasa.received[1][1] == LONG_PAYLOAD
    assert [s for s, _, _ in rasa.received] == ["tg:1001", "tg:1001"]


async def test_forged_or_expired_callback_data_is_answered_not_forwarded():
    rasa = ScriptedRasa(script=lambda s, t, m: clarify("fr"))
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(AMINA, "ou payer")
        await telegram.wait_messages(AMINA["id"], 1)
        bot_message = telegram.chat(AMINA["id"])[0]
        await telegram.press(AMINA, bot_message, "k:does-not-exist")
        await telegram.press(AMINA, bot_message, "plain text")
        # Callback data is the client's to write: Rasa's built-ins and slot-setting intents stay out.
        for crafted in ("/restart", "/session_start", '/inform{"affiliate_number":"100204821"}'):
            await telegram.press(AMINA, bot_message, crafted)
        await telegram.wait_for(lambda: len(telegram.sent("answerCallbackQuery")) == 5)
        answers = telegram.sent("answerCallbackQuery")
        assert all(a["text"] == MESSAGES["button_expired"]["fr"] for a in answers)
    assert len(rasa.received) == 1


def test_callback_keys_are_bounded():
    keys = CallbackKeys(capacity=3)
    long = "/x" + "y" * 80
    first = keys.data_for(long + "1")
    for i in range(3):
        keys.data_for(long + str(i + 2))
    assert keys.payload_for(first) is None
    assert keys.data_for("/human_handoff") == "/human_handoff" and keys.payload_for("/human_handoff") == "/human_handoff"
    assert keys.data_for("k:looks-like-a-key").startswith("k:") and keys.payload_for("lang:fr") is None


async def test_language_switch_with_each_command_and_metadata():
    rasa = ScriptedRasa(script=lambda s, t, m: answer("ok", lang=m.get("lang", "fr")))
    async with telegram_gateway(rasa) as (telegram, _):
        for index, command in enumerate(("/langue", "/lang", "/لغة")):
            await telegram.send_text(KARIM, command)
            prompt = (await telegram.wait_messages(KARIM["id"], index + 1))[-1]
            assert prompt["text"] == MESSAGES["lang_prompt"]["ar"]  # Karim's Telegram is in Arabic
            assert [b["callback_data"] for b in prompt["reply_markup"]["inline_keyboard"][0]] == \
                ["lang:fr", "lang:ar", "lang:en"]
        await telegram.press(KARIM, telegram.chat(KARIM["id"])[-1], "lang:en")
        await telegram.wait_for(lambda: telegram.sent("editMessageText"))
        assert telegram.sent("editMessageText")[0]["text"] == MESSAGES["lang_set"]["en"]
        await telegram.send_text(KARIM, "bonjour")
        await telegram.wait_messages(KARIM["id"], 4)
    assert rasa.received == [("tg:1002", "bonjour", {"fund": "cnss_ma", "channel": "telegram", "lang": "en"})]


async def test_start_sends_the_greet_intent_in_the_telegram_language():
    rasa = ScriptedRasa(script=lambda s, t, m: answer("hi", lang=m.get("lang")))
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(KARIM, "/start")
        await telegram.send_text(user(1003, None, "Sam"), "/start")
        await telegram.wait_for(lambda: len(rasa.received) == 2)
    assert sorted((s, t, m["lang"]) for s, t, m in rasa.received) == [("tg:1002", "/greet", "ar"),
                                                                      ("tg:1003", "/greet", "fr")]


async def test_typing_is_shown_for_a_slow_answer_only():
    """sendChatAction costs a Bot API call: Telegram asks bots to send it for a noticeable wait."""
    rasa = ScriptedRasa(script=lambda s, t, m: answer("ok"))
    async with telegram_gateway(rasa, TYPING_AFTER_SECONDS=0.3) as (telegram, _):
        await telegram.send_text(AMINA, "bonjour")
        await telegram.wait_messages(AMINA["id"], 1)
        await asyncio.sleep(0.4)
        assert telegram.sent("sendChatAction") == []
        rasa.delay = 0.8
        await telegram.send_text(AMINA, "encore")
        await telegram.wait_messages(AMINA["id"], 2)
        [action] = telegram.sent("sendChatAction")
        assert action["action"] == "typing" and str(action["chat_id"]) == str(AMINA["id"])


async def test_accept_contact_shows_a_request_contact_keyboard():
    def script(sender, text, metadata):
        return [{"text": "Pour vérifier votre identité, partagez votre numéro."},
                {"custom": {"sanad": {"decision": "account_balance", "lang": "fr", "accept_contact": True}}}]

    async with telegram_gateway(ScriptedRasa(script=script)) as (telegram, _):
        await telegram.send_text(AMINA, "mon solde")
        [message] = await telegram.wait_messages(AMINA["id"], 1)
    markup = telegram.sent("sendMessage", AMINA["id"])[0]["reply_markup"]
    assert markup["keyboard"] == [[{"text": MESSAGES["contact_button"]["fr"], "request_contact": True}]]
    assert markup["one_time_keyboard"] is True


async def test_accept_contact_after_inline_buttons_comes_as_its_own_prompt():
    def script(sender, text, metadata):
        sanad = {"decision": "clarify", "lang": "ar", "accept_contact": True}
        return clarify("ar")[:1] + [{"custom": {"sanad": sanad}}]

    async with telegram_gateway(ScriptedRasa(script=script)) as (telegram, _):
        await telegram.send_text(KARIM, "رصيدي")
        await telegram.wait_messages(KARIM["id"], 2)
    first, second = telegram.sent("sendMessage", KARIM["id"])
    assert "inline_keyboard" in first["reply_markup"]
    assert second["text"] == MESSAGES["contact_prompt"]["ar"]
    assert second["reply_markup"]["keyboard"][0][0]["request_contact"] is True


async def test_own_contact_is_forwarded_other_contacts_refused_and_keyboard_removed():
    def script(sender, text, metadata):
        if text == "mon solde":
            return [{"text": "Partagez votre numéro."},
                    {"custom": {"sanad": {"decision": "account_balance", "lang": "fr",
                                          "accept_contact": True}}}]
        return answer("Merci, votre numéro est vérifié.")

    rasa = ScriptedRasa(script=script)
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(AMINA, "mon solde")
        await telegram.wait_messages(AMINA["id"], 1)
        await telegram.send_contact(AMINA, "+212 600 000 999", contact_user_id=999)  # someone else's
        await telegram.send_contact(AMINA, "212600000998", contact_user_id=None)  # a typed-in card
        refusals = await telegram.wait_messages(AMINA["id"], 2, since=1)
        assert [m["text"] for m in refusals] == [MESSAGES["contact_refused"]["fr"]] * 2
        await telegram.send_contact(AMINA, "212600000101", contact_user_id=AMINA["id"])
        await telegram.wait_messages(AMINA["id"], 1, since=3)
    shared = {"fund": "cnss_ma", "channel": "telegram", "shared_phone": "+212600000101"}
    assert rasa.received[1:] == [("tg:1001", "/share_contact", shared)]
    assert telegram.sent("sendMessage", AMINA["id"])[-1]["reply_markup"] == {"remove_keyboard": True}


async def test_an_own_contact_is_signed_for_its_conversation_when_a_contact_secret_is_set():
    """The gateway vouches for the contact it checked: the action server accepts the phone only
    with this signature (actions/balance/contact_proof.py), which nobody else can make."""
    from actions.balance import contact_proof

    rasa = ScriptedRasa(script=lambda s, t, m: answer("Merci."))
    async with telegram_gateway(rasa, CONTACT_SECRET="the-shared-contact-secret") as (telegram, _):
        await telegram.send_contact(AMINA, "212600000101", contact_user_id=AMINA["id"])
        await telegram.wait_messages(AMINA["id"], 1)
    (sender, text, metadata), = rasa.received
    assert (sender, text, metadata["shared_phone"]) == ("tg:1001", "/share_contact", "+212600000101")
    proof = metadata["contact_proof"]
    assert contact_proof.verify("the-shared-contact-secret", "tg:1001", "+212600000101", proof)
    assert not contact_proof.verify("the-shared-contact-secret", "tg:1002", "+212600000101", proof)
    assert not contact_proof.verify("the-shared-contact-secret", "tg:1001", "+212600000102", proof)
    assert not contact_proof.verify("another-secret", "tg:1001", "+212600000101", proof)


async def test_an_answer_and_its_source_arrive_as_one_message_with_the_links():
    """Rasa's REST channel cuts an answer at each blank line and sends its source as one more text:
    on Telegram the pieces go together, one notification per answer, the source line last."""
    replies = faq_answer("fr")
    replies.insert(1, {"recipient_id": "x", "text": "Ou dans une agence de proximité."})
    rasa = ScriptedRasa(script=lambda s, t, m: replies)
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(AMINA, "ou payer")
        await telegram.wait_messages(AMINA["id"], 1)
        await asyncio.sleep(0.3)  # nothing more comes
    (message,) = telegram.chat(AMINA["id"])
    paragraphs = message["text"].split("\n\n")
    assert paragraphs[:2] == ["Vous pouvez payer en ligne : https://www.cnss.ma/.", "Ou dans une agence de proximité."]
    assert paragraphs[2].startswith("Source : FAQ") and paragraphs[2].endswith("🔗 FAQ: https://www.cnss.ma/fr/faq-page/8")


async def test_long_answers_are_split_under_the_limit_and_sources_get_links():
    long_answer = "\n\n".join(["Paragraphe " + "mot " * 600] * 4)  # ~9600 characters, one Rasa text
    rasa = ScriptedRasa(script=lambda s, t, m: [{"text": long_answer}] + faq_answer("fr")[1:])
    async with telegram_gateway(rasa) as (telegram, _):
        await telegram.send_text(AMINA, "explique tout")
        await telegram.wait_for(lambda: any("Source" in m["text"] for m in telegram.chat(AMINA["id"])))
    texts = [m["text"] for m in telegram.chat(AMINA["id"])]
    assert len(texts) >= 3 and all(len(t) <= 4096 for t in texts)
    assert all(t.startswith("Paragraphe") for t in texts)  # cut at blank lines, never inside one
    source = texts[-1].rsplit("\n\n", 1)[1]
    assert source.startswith("Source") and "🔗 FAQ: https://www.cnss.ma/fr/faq-page/8" in source
    assert "Article" not in source.split("\n", 1)[1]  # no link line for a source without URL


async def test_per_user_rate_limit_and_non_text_messages():
    rasa = ScriptedRasa()
    async with telegram_gateway(rasa, RATE_TELEGRAM_MESSAGES=2) as (telegram, _):
        for text in ("un", "deux", "trois"):
            await telegram.send_text(AMINA, text)
            await asyncio.sleep(0.05)
        await telegram.send_text(KARIM, "سلام")  # another user: own budget
        await telegram.push(telegram.message(AMINA, sticker={
            "file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1,
            "is_animated": False, "is_video": False}))
        await telegram.send_text(KARIM, "x" * 1500)
        await telegram.wait_messages(AMINA["id"], 4)
        await telegram.wait_messages(KARIM["id"], 2)
    amina = [m["text"] for m in telegram.chat(AMINA["id"])]
    assert sum(t.startswith("Vous envoyez beaucoup de messages") for t in amina) == 1
    assert MESSAGES["not_text"]["fr"] in amina
    karim = [m["text"] for m in telegram.chat(KARIM["id"])]
    assert any(t.startswith("رسالتك طويلة جدا (1500") for t in karim)
    assert sorted(t for _, t, _ in rasa.received) == sorted(["un", "deux", "سلام"])


NOT_TEXT = {  # what Telegram delivers besides text (a shared contact has its own handler)
    "location": {"location": {"latitude": 33.5731, "longitude": -7.5898}},
    "sticker": {"sticker": {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 512,
                            "height": 512, "is_animated": False, "is_video": False}},
    "voice": {"voice": {"file_id": "v", "file_unique_id": "vu", "duration": 3}},
    "photo with a caption": {"photo": [{"file_id": "p", "file_unique_id": "pu", "width": 90, "height": 90}],
                             "caption": "ou payer ma cotisation"},
}


async def test_a_location_a_sticker_or_a_voice_note_gets_one_reply_in_the_users_language():
    """Nothing but text goes to Rasa: each of these gets one sentence saying so, in the language of
    the user's last answer (else of their Telegram), and the next question is answered as usual."""
    rasa = ScriptedRasa(script=lambda s, t, m: answer(f"réponse à {t}", lang="ar" if t == "سؤال" else "fr"))
    async with telegram_gateway(rasa) as (telegram, _):
        for index, extra in enumerate(NOT_TEXT.values()):
            await telegram.push(telegram.message(AMINA, **extra))
            await telegram.wait_messages(AMINA["id"], index + 1)
        await telegram.send_text(AMINA, "ou payer")
        await telegram.wait_messages(AMINA["id"], len(NOT_TEXT) + 1)
        await telegram.send_text(AMINA, "سؤال")  # her last answer is now in Arabic
        await telegram.wait_messages(AMINA["id"], len(NOT_TEXT) + 2)
        await telegram.push(telegram.message(AMINA, **NOT_TEXT["location"]))
        await telegram.push(telegram.message(KARIM, **NOT_TEXT["sticker"]))  # Telegram in Arabic
        await telegram.wait_messages(KARIM["id"], 1)
        await telegram.wait_messages(AMINA["id"], len(NOT_TEXT) + 3)
        await asyncio.sleep(0.3)  # nothing more comes
    amina = [m["text"] for m in telegram.chat(AMINA["id"])]
    assert amina == [MESSAGES["not_text"]["fr"]] * len(NOT_TEXT) + [
        "réponse à ou payer", "réponse à سؤال", MESSAGES["not_text"]["ar"]]
    assert [m["text"] for m in telegram.chat(KARIM["id"])] == [MESSAGES["not_text"]["ar"]]
    assert [t for _, t, _ in rasa.received] == ["ou payer", "سؤال"]


async def test_rasa_down_the_message_is_kept_and_answered_when_back():
    rasa = ScriptedRasa(down=True, script=lambda s, t, m: answer(f"réponse à {t}"))
    async with telegram_gateway(rasa) as (telegram, app):
        channel = app.state.telegram
        channel.retry_delays = (0.2,)
        await telegram.send_text(AMINA, "première")
        [notice] = await telegram.wait_messages(AMINA["id"], 1)
        assert notice["text"] == MESSAGES["unavailable"]["fr"]
        await telegram.send_text(AMINA, "deuxième")  # kept behind the first, in order
        await telegram.wait_for(lambda: rasa.refused >= 2)
        rasa.down = False
        answers = await telegram.wait_messages(AMINA["id"], 2, since=1)
        assert [m["text"] for m in answers] == ["réponse à première", "réponse à deuxième"]
        assert channel.pending == {}
    assert [t for _, t, _ in rasa.received] == ["première", "deuxième"]


async def test_rasa_failing_after_delivery_asks_to_send_again_later():
    rasa = ScriptedRasa(lost=True)
    async with telegram_gateway(rasa) as (telegram, app):
        await telegram.send_text(KARIM, "سؤال")
        [message] = await telegram.wait_messages(KARIM["id"], 1)
    assert message["text"] == MESSAGES["unavailable_gave_up"]["ar"]
    assert len(rasa.received) == 1 and app.state.telegram.pending == {}


WEBHOOK = {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "s3cret-token_ABC",
           "TELEGRAM_WEBHOOK_URL": "https://gateway.example/telegram/webhook"}


async def test_webhook_secret_is_required_and_checked():
    rasa = ScriptedRasa()
    async with telegram_gateway(rasa, **WEBHOOK) as (telegram, app):
        assert telegram.webhook["url"] == WEBHOOK["TELEGRAM_WEBHOOK_URL"]
        assert telegram.webhook["secret_token"] == WEBHOOK["TELEGRAM_WEBHOOK_SECRET"]
        update = {"update_id": 77, **telegram.message(AMINA, "bonjour")}
        async with asgi_client(app) as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                            {"X-Telegram-Bot-Api-Secret-Token": ""},
                            {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK["TELEGRAM_WEBHOOK_SECRET"] + "x"}):
                response = await client.post("/telegram/webhook", json=update, headers=headers)
                assert response.status_code == 403
            assert rasa.received == [] and not telegram.sent("sendMessage")
            good = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK["TELEGRAM_WEBHOOK_SECRET"]}
            assert (await client.post("/telegram/webhook", content=b"{oops", headers=good)).status_code == 400
            response = await client.post("/telegram/webhook", json=update, headers=good)
            assert response.status_code == 200
            await telegram.wait_messages(AMINA["id"], 1)
        assert not telegram.sent("getUpdates")  # webhook mode never polls
    assert rasa.received == [("tg:1001", "bonjour", {"fund": "cnss_ma", "channel": "telegram"})]


async def test_an_unreadable_update_with_the_secret_is_refused_not_a_server_error():
    """Found by `sanad fuzz`: python-telegram-bot raises on these while reading them."""
    async with telegram_gateway(ScriptedRasa(), **WEBHOOK) as (telegram, app):
        good = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK["TELEGRAM_WEBHOOK_SECRET"]}
        message = telegram.message(AMINA, "bonjour")["message"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                     base_url="http://gateway") as client:
            for update in ({"update_id": "NaN", "message": "text"},
                           {"update_id": 5, "message": {**message, "date": "yesterday"}},
                           {"update_id": 6, "callback_query": {"id": "x", "data": "/restart"}}):
                response = await client.post("/telegram/webhook", json=update, headers=good)
                assert response.status_code == 400, update
            update = {"update_id": 7, **telegram.message(AMINA, "bonjour")}
            assert (await client.post("/telegram/webhook", json=update, headers=good)).status_code == 200
            await telegram.wait_messages(AMINA["id"], 1)


async def test_webhook_route_is_absent_in_polling_mode_and_without_telegram():
    from fastapi.testclient import TestClient

    from gateway.app.main import create_app
    from tests.gateway.conftest import make_settings

    with TestClient(create_app(make_settings(), rasa=ScriptedRasa())) as client:
        assert client.post("/telegram/webhook", json={"update_id": 1}).status_code == 404
    async with telegram_gateway(ScriptedRasa()) as (telegram, app):
        async with asgi_client(app) as client:
            response = await client.post("/telegram/webhook", json={"update_id": 1},
                                         headers={"X-Telegram-Bot-Api-Secret-Token": "anything"})
            assert response.status_code == 404


@pytest.mark.parametrize("phone", ["+212600000101", "212600000101", "+212 600-000-101"])
def test_phone_numbers_are_normalised(phone):
    from gateway.app.telegram.bot import normalise_phone

    assert normalise_phone(phone) == "+212600000101"


@pytest.mark.parametrize(("error", "level"), [
    (telegram.error.TimedOut(), logging.WARNING), (telegram.error.NetworkError("down"), logging.WARNING),
    (telegram.error.Forbidden("bot was blocked by the user"), logging.WARNING),
    (ValueError("a bug"), logging.ERROR)])
async def test_telegram_errors_are_logged_by_what_they_mean(error, level, caplog):
    """Telegram unreachable or a citizen who blocked the bot is an operational warning; anything
    else is a bug for the on-call engineer (ERROR). Never the update's content."""
    from types import SimpleNamespace

    from gateway.app.relay import Relay
    from gateway.app.telegram.bot import TelegramChannel
    from tests.gateway.conftest import make_settings
    from tests.gateway.stubs import ScriptedRasa

    settings = make_settings(TELEGRAM_BOT_TOKEN="123:abc")
    channel = TelegramChannel(settings, Relay(settings, ScriptedRasa(), None))
    with caplog.at_level(logging.DEBUG, logger="sanad.gateway"):
        await channel.on_error(SimpleNamespace(message=SimpleNamespace(text="+212600000101")),
                               SimpleNamespace(error=error))
    records = [r for r in caplog.records if r.name.startswith("sanad.gateway.telegram")]
    assert [r.levelno for r in records] == [level] and "+212600000101" not in caplog.text
