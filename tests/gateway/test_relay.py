"""The relay on its own: admission (text check, limits, payloads), the outcomes of a turn, the
metrics counted once, and the observers called after each turn."""
from __future__ import annotations

import asyncio

from gateway.app.messages import MESSAGES
from gateway.app.metrics import Metrics
from gateway.app.relay import ANSWERED, GAVE_UP, RETRY, Inbound, Relay
from tests.gateway.conftest import make_settings
from tests.gateway.stubs import ScriptedRasa, faq_answer


def relay_with(rasa: ScriptedRasa, **settings) -> Relay:
    return Relay(make_settings(**settings), rasa, Metrics())


def counted(relay: Relay, channel: str, outcome: str) -> float:
    return relay.metrics.registry.get_sample_value("sanad_gateway_messages_total",
                                                   {"channel": channel, "outcome": outcome}) or 0.0


def inbound(text, **fields) -> Inbound:
    return Inbound(fields.pop("channel", "web"), "web:abc", "cnss_ma", text, **fields)


async def test_admission_checks_the_text_then_the_limits_and_keeps_payloads_as_given():
    relay = relay_with(ScriptedRasa(), RATE_SESSION_MESSAGES=1)
    chosen = '/choose_topic{"topic":"payment_channels"}'
    assert await relay.admit(inbound(chosen, button=True)) == (chosen, None)
    assert await relay.admit(inbound("//salut")) == ("salut", None)  # typed: never an intent
    message, refusal = await relay.admit(inbound("   ", notice_lang="ar"))
    assert message is None and refusal.code == "empty" and refusal.text == MESSAGES["empty"]["ar"]
    keys = (("session", "s1"),)
    assert (await relay.admit(inbound("un", rate_keys=keys)))[1] is None
    _, refusal = await relay.admit(inbound("deux", rate_keys=keys))
    assert refusal.code == "too_fast" and refusal.fields()["retry_after"] >= 1
    assert counted(relay, "web", "empty") == 1 and counted(relay, "web", "too_fast") == 1


async def test_a_crafted_button_payload_is_read_as_typed_text_and_counted():
    """Only the shapes the assistant issues reach Rasa as intents (gateway/app/payloads.py): a
    client marking "/restart" as a button must not wipe its conversation or set a slot."""
    relay = relay_with(ScriptedRasa())
    crafted = {"/restart": "restart", "/session_start": "session_start",
               '/inform{"affiliate_number":"100204821"}': 'inform{"affiliate_number":"100204821"}',
               '/choose_topic{"topic":"payment_channels","reply_lang":"en"}':
                   'choose_topic{"topic":"payment_channels","reply_lang":"en"}',
               "/choose_topic{}": "choose_topic{}", "//human_handoff": "human_handoff",
               "/greet": "greet", "/share_contact": "share_contact"}
    for payload, sent in crafted.items():
        assert await relay.admit(inbound(payload, button=True)) == (sent, None), payload
    assert relay.metrics.registry.get_sample_value("sanad_gateway_crafted_payloads_total",
                                                   {"channel": "web"}) == len(crafted)
    for own in ("/greet", "/share_contact", "/human_handoff"):  # Telegram's own commands, on Telegram only
        assert await relay.admit(inbound(own, button=True, channel="telegram")) == (own, None)


async def test_outcomes_metadata_and_metrics():
    rasa = ScriptedRasa(script=lambda s, t, m: faq_answer("fr"))
    relay = relay_with(rasa)
    typed = []

    async def typing():
        typed.append(True)

    outcome = await relay.answer(inbound("ou payer", channel="telegram", lang="ar", extra={"x": 1}), "ou payer",
                                 typing=typing)
    assert outcome.kind == ANSWERED and outcome.turn.decision == "answer"
    assert rasa.received == [("web:abc", "ou payer", {"fund": "cnss_ma", "channel": "telegram", "lang": "ar", "x": 1})]
    rasa.down = True
    outcome = await relay.answer(inbound("encore", notice_lang="en"), "encore")
    assert outcome.kind == RETRY and outcome.text == MESSAGES["unavailable"]["en"]
    rasa.down, rasa.lost = False, True
    outcome = await relay.answer(inbound("encore"), "encore")
    assert outcome.kind == GAVE_UP and outcome.text == MESSAGES["unavailable_gave_up"]["fr"]
    assert [counted(relay, c, o) for c, o in (("telegram", "answered"), ("web", "retry"),
                                              ("web", "unavailable_gave_up"))] == [1, 1, 1]


async def test_the_typing_indicator_is_shown_only_when_the_answer_is_slow_to_come():
    rasa = ScriptedRasa(script=lambda s, t, m: faq_answer("fr"))
    relay = relay_with(rasa, TYPING_AFTER_SECONDS=0.2)
    shown = []

    async def typing():
        shown.append(True)

    assert (await relay.answer(inbound("ou payer"), "ou payer", typing=typing)).kind == ANSWERED
    await asyncio.sleep(0.3)
    assert shown == []  # a quick answer: no Bot API call, no frame
    rasa.delay = 0.5
    assert (await relay.answer(inbound("ou payer"), "ou payer", typing=typing)).kind == ANSWERED
    assert shown == [True]

    async def broken():
        raise RuntimeError("Telegram away")

    assert (await relay.answer(inbound("ou payer"), "ou payer", typing=broken)).kind == ANSWERED


async def test_observers_see_every_turn_and_a_failing_one_breaks_nothing():
    relay = relay_with(ScriptedRasa(script=lambda s, t, m: faq_answer("fr")))
    seen = []

    async def broken(*args):
        raise RuntimeError("observer bug")

    async def recorder(channel, conversation_id, fund, text, turn):
        seen.append((channel, conversation_id, fund, text, turn.decision))

    relay.observers.extend([broken, recorder])
    outcome = await relay.answer(inbound("ou payer"), "ou payer")
    assert outcome.kind == ANSWERED
    assert seen == [("web", "web:abc", "cnss_ma", "ou payer", "answer")]
