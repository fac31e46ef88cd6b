"""The web chat's WebSocket protocol against a real gateway server (uvicorn on a loopback port),
with Rasa replaced by a scripted stand-in: sessions, exactly-once delivery, abuse limits, Rasa
outages."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from typing import Any, Iterator, Optional

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.app.messages import MESSAGES
from tests.gateway.stubs import ScriptedRasa, answer, clarify


class Chat:
    """A WebSocket client speaking the widget's protocol, with timeouts (a failing test fails,
    it does not hang)."""

    def __init__(self, url: str, token: Optional[str], origin: Optional[str] = None) -> None:
        self.url, self.token, self.origin = url, token, origin
        self.ws = None
        self.events: list[dict[str, Any]] = []

    async def __aenter__(self) -> "Chat":
        self.ws = await connect(self.url.replace("http", "ws") + "/ws", proxy=None, origin=self.origin,
                                open_timeout=5)
        await self.ws.send(json.dumps({"type": "hello", "token": self.token}))
        self.welcome = await self.recv()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.events.append(event)
        return event

    async def until(self, kind: str, client_id: Optional[str] = None, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            event = await self.recv(timeout)
            if event["type"] == kind and (client_id is None or event.get("client_id") == client_id):
                return event

    async def say(self, text: Any, client_id: Optional[str] = None, **extra: Any) -> str:
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text, **extra}))
        return client_id


def new_session(url: str, fund: str = "cnss_ma") -> dict[str, Any]:
    response = httpx.post(f"{url}/api/session", json={"fund": fund})
    assert response.status_code == 200, response.text
    return response.json()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def failures(self) -> list[str]:
        """Errors and tracebacks (a crashed handler: uvicorn's "Exception in ASGI application")."""
        return [f"{r.name}: {r.getMessage()}" for r in self.records
                if r.exc_info or r.levelno >= logging.ERROR]


@contextlib.contextmanager
def logged() -> Iterator[Records]:
    """The records of the gateway and of uvicorn (whose loggers do not reach the root logger).
    Enter it after the server started: uvicorn's logging set-up replaces its loggers' handlers."""
    handler = Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def refusal(ws: Any) -> tuple[Optional[dict[str, Any]], int]:
    """(the error event, or None, and the close code) of a connection the server closes."""
    event = None
    try:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return event, closed.rcvd.code if closed.rcvd else 1006
    raise AssertionError("the server neither refused nor closed")


async def test_hello_welcomes_a_valid_session(serve):
    server = serve(ScriptedRasa())
    session = new_session(server.url)
    async with Chat(server.url, session["token"]) as chat:
        assert chat.welcome == {"type": "welcome", "session_id": session["session_id"], "fund": "cnss_ma",
                                "max_chars": 1000}
        await chat.ws.send(json.dumps({"type": "ping"}))
        assert await chat.recv() == {"type": "pong"}


@pytest.mark.parametrize("token", [None, "", "garbage", "eyJzaWQiOiJ4In0.bad.sig"])
async def test_hello_refuses_missing_or_forged_tokens(serve, token):
    server = serve(ScriptedRasa())
    async with Chat(server.url, token) as chat:
        assert chat.welcome["type"] == "error" and chat.welcome["code"] == "bad_session"
        with pytest.raises(ConnectionClosed) as closed:
            await chat.recv()
        assert closed.value.rcvd.code == 4401


async def test_hello_refuses_a_tampered_token(serve):
    server = serve(ScriptedRasa())
    token = new_session(server.url)["token"]
    payload, stamp, signature = token.split(".")
    # another session id in the payload, the original signature
    forged_payload = base64.urlsafe_b64encode(
        json.dumps({"sid": "A" * 22, "fund": "cnss_ma"}, separators=(",", ":")).encode()).decode().rstrip("=")
    def flip(text: str, at: int) -> str:  # not the last character: its low bits are base64 padding
        return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1:]

    for forged in (f"{forged_payload}.{stamp}.{signature}", f"{payload}.{stamp}.{flip(signature, 3)}",
                   f"{payload}.{flip(stamp, 1)}.{signature}", f"{flip(payload, 5)}.{stamp}.{signature}"):
        async with Chat(server.url, forged) as chat:
            assert chat.welcome["code"] == "bad_session"


async def test_a_message_is_answered_with_the_turn(serve):
    rasa = ScriptedRasa(script=lambda s, t, m: clarify("fr"))
    server = serve(rasa)
    session = new_session(server.url)
    async with Chat(server.url, session["token"]) as chat:
        cid = await chat.say("ou payer", lang="ar")
        assert await chat.recv() == {"type": "received", "client_id": cid}
        bot = await chat.until("bot", cid)
    assert bot["turn"]["sanad"]["decision"] == "clarify"
    payloads = [b["payload"] for b in bot["turn"]["messages"][0]["buttons"]]
    assert payloads[0] == '/choose_topic{"topic":"payment_channels"}'
    assert rasa.received == [(f"web:{session['session_id']}", "ou payer",
                              {"fund": "cnss_ma", "channel": "web", "lang": "ar"})]


async def test_the_same_client_id_reaches_rasa_once_even_after_a_reconnection(serve):
    rasa = ScriptedRasa(delay=0.3)
    server = serve(rasa)
    token = new_session(server.url)["token"]
    cid = uuid.uuid4().hex
    async with Chat(server.url, token) as first:
        await first.say("bonjour", client_id=cid)
        await first.until("received")
        await first.say("bonjour", client_id=cid)  # again while Rasa works on it
        assert await first.until("received") == {"type": "received", "client_id": cid}
    # the connection dropped before the answer came: the widget sends it again
    await asyncio.sleep(0.5)
    async with Chat(server.url, token) as second:
        await second.say("bonjour", client_id=cid)
        replay = await second.until("bot", cid)
        assert replay["replay"] is True and replay["turn"]["messages"][0]["text"] == "echo: bonjour"
        await second.say("bonjour", client_id=cid)
        assert (await second.until("bot", cid))["replay"] is True
    assert [text for _, text, _ in rasa.received] == ["bonjour"]


async def test_two_tabs_of_one_session_both_get_the_answer(serve):
    server = serve(ScriptedRasa())
    token = new_session(server.url)["token"]
    async with Chat(server.url, token) as tab1, Chat(server.url, token) as tab2:
        cid = await tab1.say("salut")
        await tab1.until("bot", cid)
        await tab2.until("bot", cid)


async def test_messages_of_a_session_are_answered_in_order(serve):
    rasa = ScriptedRasa(delay=0.05)
    server = serve(rasa)
    token = new_session(server.url)["token"]
    async with Chat(server.url, token) as chat:
        ids = [await chat.say(f"m{i}") for i in range(5)]
        answers = [(await chat.until("bot"))["client_id"] for _ in ids]
    assert answers == ids
    assert [t for _, t, _ in rasa.received] == [f"m{i}" for i in range(5)]


@pytest.mark.parametrize(("text", "code", "lang"), [
    ("x" * 1001, "too_long", None),
    ("أ" * 1001, "too_long", "ar"),
    ("", "empty", None),
    ("   \n ", "empty", None),
    ("\x00\x01\x02PK", "not_text", None),
    (12345, "not_text", None),
    ({"nested": "object"}, "not_text", None),
])
async def test_bad_input_gets_a_polite_message_and_never_reaches_rasa(serve, text, code, lang):
    rasa = ScriptedRasa()
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        cid = await chat.say(text)
        event = await chat.until("rejected", cid)
    assert event["code"] == code
    key = code
    expected = MESSAGES[key][lang or "fr"]
    assert event["text"].split("{")[0][:15] == expected.split("{")[0][:15]
    assert rasa.received == []


async def test_binary_frames_and_garbage_json_are_refused_politely(serve):
    rasa = ScriptedRasa()
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        await chat.ws.send(b"\x89PNG\r\n\x1a\n\x00\x00")
        event = await chat.recv()
        assert event["type"] == "rejected" and event["code"] == "not_text"
        assert event["text"] == MESSAGES["not_text"]["fr"]
        await chat.ws.send("{not json")
        assert (await chat.recv())["code"] == "not_text"
        await chat.ws.send(json.dumps({"type": "message", "client_id": "bad id!", "text": "x"}))
        assert (await chat.recv())["code"] == "not_text"
        # a huge frame (within the WebSocket cap) is refused as too long, not parsed
        huge = {"type": "message", "client_id": uuid.uuid4().hex, "text": "z" * 30000}
        await chat.ws.send(json.dumps(huge))
        assert (await chat.recv())["code"] == "too_long"
        # the conversation goes on
        cid = await chat.say("encore là ?")
        await chat.until("bot", cid)
    assert [t for _, t, _ in rasa.received] == ["encore là ?"]


async def test_frames_over_the_server_cap_close_the_connection(serve):
    server = serve(ScriptedRasa())
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        await chat.ws.send("x" * 200_000)  # beyond ws_max_size (64 KiB)
        with pytest.raises(ConnectionClosed):
            await chat.recv()


async def test_session_rate_limit(serve):
    rasa = ScriptedRasa()
    server = serve(rasa, RATE_SESSION_MESSAGES=3, RATE_SESSION_WINDOW_SECONDS=60)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        for i in range(3):
            await chat.until("bot", await chat.say(f"q{i}"))
        cid = await chat.say("q3", lang="en")
        event = await chat.until("rejected", cid)
    assert event["code"] == "too_fast" and 0 < event["retry_after"] <= 60
    assert event["text"].startswith("You are sending many messages")
    assert len(rasa.received) == 3


async def test_ip_rate_limit_spans_sessions(serve):
    rasa = ScriptedRasa()
    server = serve(rasa, RATE_IP_MESSAGES=4, RATE_SESSION_MESSAGES=100)
    async with Chat(server.url, new_session(server.url)["token"]) as a, \
            Chat(server.url, new_session(server.url)["token"]) as b:
        for chat in (a, b, a, b):
            await chat.until("bot", await chat.say("question"))
        event = await b.until("rejected", await b.say("encore"))
    assert event["code"] == "too_fast"
    assert len(rasa.received) == 4


async def test_rasa_down_keeps_the_message_and_it_is_delivered_once_when_back(serve):
    rasa = ScriptedRasa(down=True)
    server = serve(rasa, RATE_SESSION_MESSAGES=2)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        cid = await chat.say("ما هي مدة التدريب")
        retry = await chat.until("retry", cid)
        assert retry["code"] == "unavailable" and retry["retry_after"] > 0
        assert retry["text"] == MESSAGES["unavailable"]["ar"]  # in the citizen's script
        for _ in range(3):  # the widget tries again; the rate limit does not eat the message
            await chat.say("ما هي مدة التدريب", client_id=cid)
            await chat.until("retry", cid)
        rasa.down = False
        await chat.say("ما هي مدة التدريب", client_id=cid)
        await chat.until("bot", cid)
    assert rasa.refused == 4 and [t for _, t, _ in rasa.received] == ["ما هي مدة التدريب"]


async def test_rasa_failing_after_delivery_is_not_retried(serve):
    rasa = ScriptedRasa(lost=True)
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        cid = await chat.say("bonjour")
        event = await chat.until("rejected", cid)
        assert event["code"] == "unavailable_gave_up"
        await chat.say("bonjour", client_id=cid)
        assert (await chat.until("rejected", cid))["replay"] is True
    assert len(rasa.received) == 1


async def test_typed_slash_text_is_not_an_intent_but_buttons_are(serve):
    rasa = ScriptedRasa()
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        await chat.until("bot", await chat.say('/share_contact{"phone":"+212600000000"}'))
        await chat.until("bot", await chat.say('/choose_topic{"topic":"payment_channels"}', button=True))
    assert [t for _, t, _ in rasa.received] == ['share_contact{"phone":"+212600000000"}',
                                                '/choose_topic{"topic":"payment_channels"}']


async def test_a_crafted_button_frame_never_sends_rasa_a_built_in_intent(serve):
    """The `button` flag is the client's: "/restart" or "/inform{...}" marked as a button reach
    Rasa as typed text; the assistant's own clarification payloads still pass."""
    rasa = ScriptedRasa()
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        for crafted in ("/restart", '/inform{"affiliate_number":"100204821"}', "/session_start"):
            await chat.until("bot", await chat.say(crafted, button=True))
        await chat.until("bot", await chat.say("/human_handoff", button=True))
    assert [t for _, t, _ in rasa.received] == ["restart", 'inform{"affiliate_number":"100204821"}',
                                                "session_start", "/human_handoff"]


async def test_websocket_origin_must_be_the_gateway_or_an_allowed_fund_site(serve):
    server = serve(ScriptedRasa(), ALLOWED_ORIGINS="https://www.cnss.ma")
    token = new_session(server.url)["token"]
    for origin in ("https://www.cnss.ma", server.url):
        async with Chat(server.url, token, origin=origin) as chat:
            assert chat.welcome["type"] == "welcome"
    with pytest.raises(InvalidStatus) as refused:
        async with Chat(server.url, token, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_answer_in_the_chosen_language_metadata_only_when_chosen(serve):
    rasa = ScriptedRasa(script=lambda s, t, m: answer("ok", lang=m.get("lang", "fr")))
    server = serve(rasa)
    async with Chat(server.url, new_session(server.url, fund="casnos_dz")["token"]) as chat:
        await chat.until("bot", await chat.say("bonjour"))
        await chat.until("bot", await chat.say("bonjour", lang="en"))
        await chat.until("bot", await chat.say("bonjour", lang="xx"))
    assert [m for _, _, m in rasa.received] == [
        {"fund": "casnos_dz", "channel": "web"},
        {"fund": "casnos_dz", "channel": "web", "lang": "en"},
        {"fund": "casnos_dz", "channel": "web"}]


# --- malformed frames, at any phase: a clear refusal, no traceback, everything else goes on ----

HELLO_GARBAGE = [
    pytest.param("[" * 2000, 1007, id="nested-2000-deep"),  # deeper than the JSON parser goes
    pytest.param('{"a":' * 10_000 + "1" + "}" * 10_000, 1009, id="object-nested-10000-deep"),
    pytest.param("[" * 50_000, 1009, id="50k-brackets"),
    pytest.param("{not json", 1007, id="not-json"),
    pytest.param('["hello", "token"]', 1007, id="not-an-object"),
    pytest.param("null", 1007, id="null"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00", 1003, id="binary"),
]


@pytest.mark.parametrize("frame, close_code", HELLO_GARBAGE)
async def test_a_malformed_first_frame_is_refused_cleanly_and_nothing_else_breaks(serve, frame, close_code):
    rasa = ScriptedRasa()
    server = serve(rasa)
    token = new_session(server.url)["token"]
    with logged() as log:
        async with Chat(server.url, token) as bystander:
            ws_url = server.url.replace("http", "ws") + "/ws"
            async with connect(ws_url, proxy=None, open_timeout=5) as hostile:
                await hostile.send(frame)
                event, code = await refusal(hostile)
            assert code == close_code
            assert event == {"type": "error", "code": "bad_frame", "text": MESSAGES["not_text"]["fr"]}
            await bystander.until("bot", await bystander.say("toujours là ?"))  # an open connection
        async with Chat(server.url, token) as again:  # and a new one
            assert again.welcome["type"] == "welcome"
    assert log.failures() == []
    assert [t for _, t, _ in rasa.received] == ["toujours là ?"]


async def test_a_first_frame_beyond_the_server_cap_closes_with_1009_and_no_traceback(serve):
    server = serve(ScriptedRasa())
    with logged() as log:
        async with connect(server.url.replace("http", "ws") + "/ws", proxy=None, open_timeout=5) as hostile:
            await hostile.send("[" * 100_000)  # beyond ws_max_size: uvicorn closes before the app reads it
            _, code = await refusal(hostile)
        async with Chat(server.url, new_session(server.url)["token"]) as chat:
            assert chat.welcome["type"] == "welcome"
    assert code == 1009
    assert log.failures() == []


@pytest.mark.parametrize("hello", [
    {"type": "hello", "token": {"sid": "A" * 22, "fund": "cnss_ma"}, "lang": ["ar"]},
    {"type": "hello", "token": 12345, "lang": 7},
    {"type": "hello", "token": ["a", "b"], "lang": {"ar": True}},
    {"type": ["hello"], "token": None, "lang": None},
])
async def test_a_hello_with_wrong_types_is_a_bad_session_not_a_crash(serve, hello):
    server = serve(ScriptedRasa())
    with logged() as log:
        async with connect(server.url.replace("http", "ws") + "/ws", proxy=None, open_timeout=5) as ws:
            await ws.send(json.dumps(hello))
            event, code = await refusal(ws)
    assert code == 4401 and event["code"] == "bad_session" and event["text"] == MESSAGES["bad_session"]["fr"]
    assert log.failures() == []


async def test_malformed_frames_after_the_hello_are_rejected_and_the_chat_goes_on(serve):
    rasa = ScriptedRasa()
    server = serve(rasa)
    frames = [
        "[" * 2000,  # nested deeper than the JSON parser goes
        '{"a":' * 1500 + "1" + "}" * 1500,  # as deep, within the size a message may have
        "null", "[]", '"message"', "1e999999", "NaN",
        json.dumps({"type": ["message"]}),
        json.dumps({"type": {"ping": 1}}),
        json.dumps({"type": "message", "client_id": 12345, "text": "x"}),
        json.dumps({"type": "message", "client_id": ["abcdefgh12"], "text": "x"}),
        json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": ["x"]}),
        json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": {"t": "x"}}),
    ]
    with logged() as log:
        async with Chat(server.url, new_session(server.url)["token"]) as chat:
            for frame in frames:
                await chat.ws.send(frame)
                event = await chat.recv()
                assert (event["type"], event["code"]) == ("rejected", "not_text"), frame[:40]
            # wrong types in the optional fields are ignored, the message is answered
            cid = await chat.say("bonjour", lang={"fr": 1}, button="yes")
            await chat.until("bot", cid)
    assert log.failures() == []
    assert rasa.received == [(rasa.received[0][0], "bonjour", {"fund": "cnss_ma", "channel": "web"})]


# --- new connections per address ------------------------------------------------------------------

async def test_new_connections_per_address_are_limited_with_a_clear_refusal(serve):
    server = serve(ScriptedRasa(), RATE_IP_CONNECTIONS=3, RATE_IP_WINDOW_SECONDS=60)
    token = new_session(server.url)["token"]
    for _ in range(3):
        async with Chat(server.url, token) as chat:
            assert chat.welcome["type"] == "welcome"
    async with connect(server.url.replace("http", "ws") + "/ws", proxy=None, open_timeout=5,
                       additional_headers={"Accept-Language": "ar-MA,ar;q=0.9,fr;q=0.8"}) as refused:
        event, code = await refusal(refused)
    assert code == 4429
    assert event["type"] == "error" and event["code"] == "too_fast" and 0 < event["retry_after"] <= 60
    assert event["text"] == MESSAGES["too_fast"]["ar"].format(seconds=event["retry_after"])
