"""The Rasa client: the REST channel's replies gathered into one turn, and failures sorted by
whether Rasa got the message (keep and resend) or may have (do not resend)."""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from gateway.app.rasa_client import RasaClient, RasaUnavailable, parse_replies
from tests.gateway.loopback import CUT, HANG, Reply, StandIn, refused_url, unconnectable_url
from tests.gateway.stubs import clarify, faq_answer


async def test_send_posts_sender_message_and_metadata_and_parses_the_turn():
    async with StandIn(lambda request: Reply(200, faq_answer("fr"))) as stand_in:
        rasa = RasaClient(stand_in.url, timeout=2)
        turn = await rasa.send("web:abc", "ou payer ?", {"fund": "cnss_ma", "channel": "web", "lang": "fr"})
        await rasa.aclose()
    [request] = stand_in.requests
    assert (request.method, request.path) == ("POST", "/webhooks/rest/webhook")
    assert request.json() == {"sender": "web:abc", "message": "ou payer ?",
                              "metadata": {"fund": "cnss_ma", "channel": "web", "lang": "fr"}}
    assert "authorization" not in request.headers  # the REST channel needs no token
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


async def failure(url: str, timeout: float = 2) -> RasaUnavailable:
    """The error of one message sent to `url`; the client is not ready there either."""
    rasa = RasaClient(url, timeout=timeout)
    try:
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.send("tg:1", "x", {})
        assert not await rasa.ready()
    finally:
        await rasa.aclose()
    return caught.value


async def test_a_refused_connection_is_not_delivered():
    with refused_url() as url:
        assert (await failure(url)).delivered is False


async def test_a_connection_not_made_in_time_is_not_delivered():
    with unconnectable_url() as url:
        error = await failure(url, timeout=0.5)
    assert error.delivered is False and error.reason == "unreachable"


@pytest.mark.parametrize(("behaviour", "delivered"), [
    (HANG, True),  # no answer within the timeout: Rasa may be processing it
    (CUT, True),  # the connection lost after the message was sent: Rasa may have processed it
])
async def test_failures_after_sending_may_have_been_delivered(behaviour, delivered):
    async with StandIn(lambda request: behaviour) as stand_in:
        error = await failure(stand_in.url, timeout=0.5)
    assert error.delivered is delivered and error.reason == "no answer"
    assert [r.path for r in stand_in.requests][:1] == ["/webhooks/rest/webhook"]  # it did get there


@pytest.mark.parametrize(("status", "delivered"), [(502, False), (503, False), (500, True), (404, True)])
async def test_http_failures(status, delivered):
    async with StandIn(lambda request: Reply(status, "oops")) as stand_in:
        error = await failure(stand_in.url)
    assert error.delivered is delivered and error.reason == f"HTTP {status}"


@pytest.mark.parametrize("body", ["<html>", b"\xff\xfe not utf-8", ""])
async def test_an_unreadable_answer_counts_as_delivered(body):
    async with StandIn(lambda request: Reply(200, body)) as stand_in:
        rasa = RasaClient(stand_in.url, timeout=2)
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.send("tg:1", "x", {})
        await rasa.aclose()
    assert caught.value.delivered is True and caught.value.reason == "unreadable answer"


async def test_a_redirect_is_not_followed_the_message_is_sent_once():
    """aiohttp would follow it (a 307 posts the message again, up to ten times); httpx did not."""
    moved = Reply(307, "", headers={"Location": "/webhooks/rest/webhook"})
    async with StandIn(lambda request: moved) as stand_in:
        rasa = RasaClient(stand_in.url, timeout=2)
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.send("tg:1", "x", {})
        await rasa.aclose()
    assert caught.value.delivered is True and len(stand_in.requests) == 1


async def test_real_connection_refused_is_not_delivered():
    rasa = RasaClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RasaUnavailable) as caught:
        await rasa.send("web:x", "x", {})
    await rasa.aclose()
    assert caught.value.delivered is False


async def test_ready_uses_the_api_token_when_set():
    def status(request):
        assert request.method == "GET"
        return Reply(200 if request.path == "/status" and request.query.get("token") == "tok" else 401, {})

    async with StandIn(status) as stand_in:
        for token, ready in (("tok", True), ("bad", False)):
            rasa = RasaClient(stand_in.url, token=token)
            assert await rasa.ready() is ready
            await rasa.aclose()
        rasa = RasaClient(stand_in.url)  # no token: the root answers whether the server is up
        assert not await rasa.ready()
        await rasa.aclose()
    assert [(r.path, r.query) for r in stand_in.requests] == [
        ("/status", {"token": "tok"}), ("/status", {"token": "bad"}), ("/", {})]


async def test_a_client_serves_each_event_loop_and_closes_its_connections():
    """The gateway's client is made before its loop runs, and a test may use one client from
    several loops: each loop gets its own connections; aclose lets the caller's go."""
    async with StandIn(lambda request: Reply(200, faq_answer())) as stand_in:
        rasa = RasaClient(stand_in.url, timeout=2)
        await rasa.send("web:1", "x", {})
        await rasa.send("web:1", "y", {})
        assert stand_in.accepted == 1  # the connection kept for the second turn

        async def from_another_loop():
            await rasa.send("web:1", "z", {})
            await rasa.aclose()

        await asyncio.to_thread(asyncio.run, from_another_loop())
        assert stand_in.accepted == 2
        await rasa.send("web:1", "still kept", {})
        assert stand_in.accepted == 2
        await rasa.aclose()
        await rasa.send("web:1", "after aclose", {})  # a new session, a new connection
        assert stand_in.accepted == 3
        await rasa.aclose()
    assert len(stand_in.requests) == 5


# --- several Rasa instances (RASA_URLS) ------------------------------------------------------------

class Instances:
    """`count` Rasa instances on loopback ports, rasa-1 to rasa-N; those named in `down` refuse
    every connection (killed: nothing listens there any more). `handler(name, request)` answers
    for the others; `calls` names the instance of each request received, in order; `client` is
    a RasaClient of them all."""

    def __init__(self, handler, count: int = 3, down: tuple[str, ...] = ()) -> None:
        self.handler, self.count, self.down = handler, count, down
        self.calls: list[str] = []
        self.urls: dict[str, str] = {}

    def _answer(self, name: str, request):
        self.calls.append(name)
        return self.handler(name, request)

    async def __aenter__(self) -> "Instances":
        self._stack = AsyncExitStack()
        for number in range(1, self.count + 1):
            name = f"rasa-{number}"
            if name in self.down:
                self.urls[name] = self._stack.enter_context(refused_url())
            else:
                stand_in = StandIn(lambda request, name=name: self._answer(name, request), name)
                self.urls[name] = (await self._stack.enter_async_context(stand_in)).url
        self.client = RasaClient(list(self.urls.values()), timeout=2)
        self._stack.push_async_callback(self.client.aclose)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._stack.aclose()

    def sender_placed_first_on(self, name: str, skip: int = 0) -> str:
        senders = (f"web:{i}" for i in range(100))
        return [s for s in senders if self.client.instances_for(s)[0] == self.urls[name]][skip]


async def test_a_conversation_goes_to_the_next_instance_when_its_own_refuses_the_connection():
    async with Instances(lambda name, request: Reply(200, faq_answer("fr")), down=("rasa-1",)) as rasa:
        turn = await rasa.client.send(rasa.sender_placed_first_on("rasa-1"), "ou payer ?", {})
    assert turn.decision == "answer"
    assert rasa.calls == ["rasa-2"]  # once: the message reached Rasa once


async def test_a_message_an_instance_may_have_processed_is_never_sent_to_another():
    async with Instances(lambda name, request: CUT) as rasa:  # the instance died while answering
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.client.send("web:abc", "x", {})
    assert caught.value.delivered is True and len(rasa.calls) == 1


async def test_when_every_instance_refuses_the_message_is_kept_for_later():
    async with Instances(lambda name, request: Reply(503, "store down")) as rasa:
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.client.send("web:abc", "x", {})
    assert caught.value.delivered is False and sorted(rasa.calls) == ["rasa-1", "rasa-2", "rasa-3"]


def test_conversations_are_spread_and_each_keeps_its_instance():
    urls = [f"http://rasa-{i}.test" for i in range(1, 4)]  # nothing is sent
    rasa = RasaClient(urls)
    firsts = [rasa.instances_for(f"web:{i}")[0] for i in range(300)]
    assert all(firsts.count(url) > 60 for url in rasa.base_urls)  # spread over the three
    again = RasaClient(urls)  # another gateway process
    assert [again.instances_for(f"web:{i}")[0] for i in range(300)] == firsts
    assert sorted(rasa.instances_for("web:1")) == sorted(rasa.base_urls)  # every instance, once


async def test_ready_while_one_instance_answers_and_says_which():
    async with Instances(lambda name, request: Reply(200, {}), count=2, down=("rasa-2",)) as rasa:
        assert await rasa.client.instances_ready() == {rasa.urls["rasa-1"]: True, rasa.urls["rasa-2"]: False}
        assert await rasa.client.ready()
    async with Instances(lambda name, request: Reply(503, {}), count=2) as rasa:
        assert not await rasa.client.ready()


async def test_a_ranking_goes_to_another_instance_when_one_is_down():
    ranking = {"lang": "fr", "script": "latin", "entries": []}
    async with Instances(lambda name, request: Reply(200, ranking), count=2, down=("rasa-1",)) as rasa:
        texts = ("payer", "cotisation", "carte", "retraite")
        assert {rasa.client.instances_for("/webhooks/assist/rank" + text)[0] for text in texts} == set(
            rasa.urls.values())  # some of them hash to the instance that is down first
        for text in texts:
            assert (await rasa.client.assist_rank(text, "cnss_ma", ["fr"]))["entries"] == []
    assert rasa.calls == ["rasa-2"] * 4


async def test_a_ranking_that_fails_on_every_instance_is_unavailable_not_delivered():
    async with Instances(lambda name, request: HANG, count=2) as rasa:
        with pytest.raises(RasaUnavailable) as caught:
            await rasa.client.assist_rank("payer", "cnss_ma", ["fr"], timeout=0.3)
    assert caught.value.delivered is False and sorted(rasa.calls) == ["rasa-1", "rasa-2"]


async def test_a_new_conversation_goes_to_the_least_busy_instance_and_stays_there():
    """On the embedded stores each Rasa process has its own conversation locks: a conversation
    must stay on one process; new ones go where fewer messages are in progress."""
    release, calls = asyncio.Event(), []

    async def handler(name, request):
        calls.append((request.json()["sender"], name))
        if request.json()["message"] == "slow":
            await release.wait()
        return Reply(200, faq_answer("fr"))

    async with Instances(handler, count=2) as rasa:
        first, second = rasa.sender_placed_first_on("rasa-1"), rasa.sender_placed_first_on("rasa-1", skip=1)
        busy = asyncio.create_task(rasa.client.send(first, "slow", {}))
        while not calls:
            await asyncio.sleep(0.001)
        await rasa.client.send(second, "ou payer ?", {})  # its hash says rasa-1, busy: placed on rasa-2
        await rasa.client.send(second, "et quand ?", {})  # and kept there, though rasa-1 is free again below
        release.set()
        await busy
        await rasa.client.send(first, "merci", {})
    assert calls == [(first, "rasa-1"), (second, "rasa-2"), (second, "rasa-2"), (first, "rasa-1")]
    assert rasa.client.placement.in_progress == [0, 0]


async def test_messages_in_progress_are_counted_down_on_failures_too():
    async with Instances(lambda name, request: CUT, count=2, down=("rasa-1",)) as rasa:
        for i in range(6):
            with pytest.raises(RasaUnavailable):
                await rasa.client.send(f"web:{i}", "x", {})
    assert rasa.client.placement.in_progress == [0, 0]
    assert rasa.calls == ["rasa-2"] * 6


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
    async def slow_answer(request):
        await asyncio.sleep(0.05)  # every turn of a round is in flight at once
        return Reply(200, faq_answer("fr"))

    async with StandIn(slow_answer) as stand_in:
        rasa = RasaClient(stand_in.url, timeout=5)
        try:
            for _ in range(3):
                turns = await asyncio.gather(*(rasa.send(f"web:{n}", "payer", {"fund": "cnss_ma"})
                                               for n in range(30)))
                assert all(turn.decision == "answer" for turn in turns)
        finally:
            await rasa.aclose()
    assert stand_in.accepted == 30, stand_in.accepted
    assert len(stand_in.requests) == 90


async def test_no_more_connections_to_an_instance_than_its_limit(monkeypatch):
    """Past MAX_CONNECTIONS_PER_INSTANCE turns at once, the others wait for a kept connection
    instead of opening more."""
    from gateway.app import rasa_client

    monkeypatch.setattr(rasa_client, "MAX_CONNECTIONS_PER_INSTANCE", 4)

    async def slow_answer(request):
        await asyncio.sleep(0.02)
        return Reply(200, faq_answer("fr"))

    async with StandIn(slow_answer) as one, StandIn(slow_answer) as other:
        rasa = RasaClient([one.url, other.url], timeout=5)
        try:
            await asyncio.gather(*(rasa.send(f"web:{n}", "payer", {}) for n in range(40)))
        finally:
            await rasa.aclose()
    assert one.accepted == other.accepted == 4, (one.accepted, other.accepted)
    assert len(one.requests) + len(other.requests) == 40
