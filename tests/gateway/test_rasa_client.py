"""The Rasa client: the REST channel's replies gathered into one turn, and failures sorted by
whether Rasa got the message (keep and resend) or may have (do not resend)."""
from __future__ import annotations

import json

import httpx
import pytest

from gateway.app.rasa_client import RasaClient, RasaUnavailable, parse_replies
from tests.gateway.stubs import clarify, faq_answer


def client_with(handler) -> RasaClient:
    return RasaClient("http://rasa.test", timeout=2, transport=httpx.MockTransport(handler))


async def test_send_posts_sender_message_and_metadata_and_parses_the_turn():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.path
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json=faq_answer("fr"))

    rasa = client_with(handler)
    turn = await rasa.send("web:abc", "ou payer ?", {"fund": "cnss_ma", "channel": "web", "lang": "fr"})
    await rasa.aclose()
    assert seen == {"path": "/webhooks/rest/webhook",
                    "body": {"sender": "web:abc", "message": "ou payer ?",
                             "metadata": {"fund": "cnss_ma", "channel": "web", "lang": "fr"}}}
    assert turn.decision == "answer" and turn.lang == "fr"
    assert [m.kind for m in turn.messages] == ["text", "source"]
    assert [s["url"] for s in turn.public_sanad()["sources"]] == ["https://www.cnss.ma/fr/faq-page/8", None]


def test_parse_replies_keeps_buttons_and_the_sanad_block():
    turn = parse_replies(clarify("ar"))
    assert turn.decision == "clarify" and turn.lang == "ar"
    assert len(turn.messages) == 1 and len(turn.messages[0].buttons) == 3
    assert turn.messages[0].kind == "text"
    assert turn.public_sanad()["offered"] == ["payment_channels", "other"]


def test_parse_replies_ignores_junk_and_marks_no_source_line_without_sources():
    turn = parse_replies([{"text": "  "}, "junk", {"text": "Bonjour"}, {"text": "Deux"},
                          {"custom": {"sanad": {"decision": "greet", "lang": "fr", "accept_contact": True}}}])
    assert [m.text for m in turn.messages] == ["Bonjour", "Deux"]
    assert all(m.kind == "text" for m in turn.messages)
    assert turn.accept_contact
    assert parse_replies([]).messages == []
    with pytest.raises(ValueError):
        parse_replies({"not": "a list"})


@pytest.mark.parametrize(("error", "delivered"), [
    (httpx.ConnectError("refused"), False),
    (httpx.ConnectTimeout("slow connect"), False),
    (httpx.ReadTimeout("no answer"), True),
    (httpx.RemoteProtocolError("cut"), True),
])
async def test_transport_failures(error, delivered):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    rasa = client_with(handler)
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("tg:1", "x", {})
    assert caught.value.delivered is delivered
    assert not await rasa.ready()


@pytest.mark.parametrize(("status", "delivered"), [(502, False), (503, False), (500, True), (404, True)])
async def test_http_failures(status, delivered):
    rasa = client_with(lambda request: httpx.Response(status, text="oops"))
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("tg:1", "x", {})
    assert caught.value.delivered is delivered


async def test_unreadable_answer_counts_as_delivered():
    rasa = client_with(lambda request: httpx.Response(200, text="<html>"))
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("tg:1", "x", {})
    assert caught.value.delivered is True


async def test_real_connection_refused_is_not_delivered():
    rasa = RasaClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("web:x", "x", {})
    await rasa.aclose()
    assert caught.value.delivered is False


async def test_ready_uses_the_api_token_when_set():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200 if request.url.params.get("token") == "tok" else 401, json={})

    assert await RasaClient("http://rasa.test", token="tok", transport=httpx.MockTransport(handler)).ready()
    transport = httpx.MockTransport(handler)
    assert not await RasaClient("http://rasa.test", token="bad", transport=transport).ready()
    assert seen[0] == "http://rasa.test/status?token=tok"
