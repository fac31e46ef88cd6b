"""The Rasa client: the REST channel's replies gathered into one turn, and failures sorted by
whether Rasa got the message (keep and resend) or may have (do not resend)."""
from __future__ import annotations

import asyncio
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


# --- several Rasa instances (RASA_URLS) ------------------------------------------------------------

def instances_client(handler, count: int = 3) -> RasaClient:
    urls = [f"http://rasa-{i}.test" for i in range(1, count + 1)]
    return RasaClient(urls, timeout=2, transport=httpx.MockTransport(handler))


async def test_a_conversation_goes_to_the_next_instance_when_its_own_refuses_the_connection():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "rasa-1.test":  # killed: nothing listens there any more
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json=faq_answer("fr"))

    rasa = instances_client(handler)
    sender = next(s for s in (f"web:{i}" for i in range(100)) if rasa.instances_for(s)[0] == "http://rasa-1.test")
    turn = await rasa.send(sender, "ou payer ?", {})
    assert turn.decision == "answer"
    assert calls == ["rasa-1.test", "rasa-2.test"]  # each once: the message reached Rasa once


async def test_a_message_an_instance_may_have_processed_is_never_sent_to_another():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        raise httpx.RemoteProtocolError("the instance died while answering")

    rasa = instances_client(handler)
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("web:abc", "x", {})
    assert caught.value.delivered is True and len(calls) == 1


async def test_when_every_instance_refuses_the_message_is_kept_for_later():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        return httpx.Response(503, text="store down")

    rasa = instances_client(handler)
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("web:abc", "x", {})
    assert caught.value.delivered is False and sorted(calls) == ["rasa-1.test", "rasa-2.test", "rasa-3.test"]


def test_conversations_are_spread_and_each_keeps_its_instance():
    rasa = instances_client(lambda request: httpx.Response(200, json=[]))
    firsts = [rasa.instances_for(f"web:{i}")[0] for i in range(300)]
    assert all(firsts.count(url) > 60 for url in rasa.base_urls)  # spread over the three
    again = instances_client(lambda request: httpx.Response(200, json=[]))  # another gateway process
    assert [again.instances_for(f"web:{i}")[0] for i in range(300)] == firsts
    assert sorted(rasa.instances_for("web:1")) == sorted(rasa.base_urls)  # every instance, once


async def test_ready_while_one_instance_answers_and_says_which():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "rasa-2.test":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={})

    rasa = instances_client(handler, count=2)
    assert await rasa.instances_ready() == {"http://rasa-1.test": True, "http://rasa-2.test": False}
    assert await rasa.ready()
    assert not await instances_client(lambda request: httpx.Response(503), count=2).ready()


async def test_a_ranking_goes_to_another_instance_when_one_is_down():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "rasa-1.test":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"lang": "fr", "script": "latin", "entries": []})

    rasa = instances_client(handler, count=2)
    for text in ("payer", "cotisation", "carte", "retraite"):  # whichever instance each text hashes to
        assert (await rasa.assist_rank(text, "cnss_ma", ["fr"]))["entries"] == []


async def test_a_new_conversation_goes_to_the_least_busy_instance_and_stays_there():
    """On the embedded stores each Rasa process has its own conversation locks: a conversation
    must stay on one process; new ones go where fewer messages are in progress."""
    release, calls = asyncio.Event(), []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append((json.loads(request.content)["sender"], request.url.host))
        if json.loads(request.content)["message"] == "slow":
            await release.wait()
        return httpx.Response(200, json=faq_answer("fr"))

    rasa = RasaClient(["http://rasa-1.test", "http://rasa-2.test"], timeout=2, transport=httpx.MockTransport(handler))
    on_first = [s for s in (f"web:{i}" for i in range(100)) if rasa.instances_for(s)[0] == "http://rasa-1.test"]
    busy = asyncio.create_task(rasa.send(on_first[0], "slow", {}))
    while not calls:
        await asyncio.sleep(0)
    await rasa.send(on_first[1], "ou payer ?", {})  # its hash says rasa-1, busy: placed on rasa-2
    await rasa.send(on_first[1], "et quand ?", {})  # and kept there, though rasa-1 is free again below
    release.set()
    await busy
    await rasa.send(on_first[0], "merci", {})
    assert calls == [(on_first[0], "rasa-1.test"), (on_first[1], "rasa-2.test"), (on_first[1], "rasa-2.test"),
                     (on_first[0], "rasa-1.test")]
    assert rasa.placement.in_progress == [0, 0]


async def test_messages_in_progress_are_counted_down_on_failures_too():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "rasa-1.test":
            raise httpx.ConnectError("refused")
        raise httpx.RemoteProtocolError("died while answering")

    rasa = instances_client(handler, count=2)
    for i in range(6):
        with pytest.raises(RasaUnavailable):
            await rasa.send(f"web:{i}", "x", {})
    assert rasa.placement.in_progress == [0, 0]


def test_the_placement_forgets_the_least_recently_used_conversations_beyond_its_capacity():
    from gateway.app.rasa_client import Placement

    placement = Placement(2, capacity=3)
    for name in ("a", "b", "c"):
        placement.instance_of(name)
    placement.instance_of("a")  # used again: "b" is now the oldest
    placement.instance_of("d")
    assert list(placement._placed) == ["c", "a", "d"]


async def test_citizens_talking_at_once_keep_their_connections_to_rasa_between_turns():
    """A real Rasa stand-in on a loopback port counts the TCP connections it accepts: 30 turns at
    once, three times over, reuse the first round's connections (issue 18: with 10 kept alive,
    each turn past them opened and closed a connection, at a CPU cost on both sides)."""
    from bot.tooling.services import free_port

    accepted = 0

    async def rasa_stand_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        body = json.dumps(faq_answer("fr")).encode()
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                await asyncio.sleep(0.05)  # every turn of a round is in flight at once
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    port = free_port()
    server = await asyncio.start_server(rasa_stand_in, "127.0.0.1", port)
    rasa = RasaClient(f"http://127.0.0.1:{port}", timeout=5)
    try:
        for _ in range(3):
            turns = await asyncio.gather(*(rasa.send(f"web:{n}", "payer", {"fund": "cnss_ma"}) for n in range(30)))
            assert all(turn.decision == "answer" for turn in turns)
    finally:
        await rasa.aclose()
        server.close()
        await server.wait_closed()
    assert accepted == 30, accepted
