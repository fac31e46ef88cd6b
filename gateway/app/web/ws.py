"""The web chat's WebSocket: `/ws`.

Protocol (JSON text frames):

  client -> {"type": "hello", "token": T, "lang"?}              first frame, within 10 s
  server -> {"type": "welcome", "session_id", "fund", "max_chars"}
            or {"type": "error", "code": "bad_session", "text"} and close 4401
            or {"type": "error", "code": "bad_frame", "text"} and close 1003 (binary frame),
               1007 (not a JSON object, nested too deep) or 1009 (over 4 KiB)
  client -> {"type": "message", "client_id": C, "text": S, "lang": "fr"|"ar"|"en"|null, "button": bool}
  server -> {"type": "received", "client_id": C}                 accepted, being answered
            {"type": "typing", "on": true}
            {"type": "bot", "client_id": C, "turn": {"messages": [...], "sanad": {...}}}
            {"type": "rejected", "client_id": C, "code", "text", "retry_after"?}
                 code: too_long | too_fast | empty | not_text | unavailable_gave_up
            {"type": "retry", "client_id": C, "code": "unavailable", "text", "retry_after"}
                 Rasa is unreachable: keep it, send it again later
            {"type": "forwarded", "client_id": C}
                 a person (live handoff) holds the conversation: the message is on their screen
  client -> {"type": "ping"}   server -> {"type": "pong"}

Live handoff (gateway/app/agent/handoff/desk.py), at any time:
  server -> {"type": "agent", "id": I, "text", "lang"}          a person's message
            {"type": "handoff", "id": I, "status": "claimed"|"returned"|"closed", "text", "lang"}
  client -> {"type": "ack", "id": I}                             shown: not sent again
Each stays in the session until acknowledged and is sent again, with `"replay": true`, after the
next hello; the widget shows an id once.

The shared state (SANAD_GATEWAY_REDIS_URL) unreachable, at any time:
  server -> {"type": "error", "code": "unavailable", "text", "retry_after"} and close 1013
            (the widget keeps its unanswered messages and sends them again once reconnected)
Too many new connections from one address (RATE_IP_CONNECTIONS per RATE_IP_WINDOW_SECONDS):
  server -> {"type": "error", "code": "too_fast", "text", "retry_after"} and close 4429
A malformed frame after the hello (binary, not JSON, nested too deep, wrong types) gets a
`rejected` event with code not_text and the connection goes on.

Exactly once: the widget keeps every message until it gets its `bot` or `rejected` event and
sends the unanswered ones again on reconnection; the gateway answers a client id it already
knows from memory (replayed, `"replay": true`) or not at all while it is being answered, so Rasa
sees each message once. A `retry` means Rasa never got it. With SANAD_GATEWAY_REDIS_URL that
memory is Redis: the widget may reconnect to any gateway process, and an answer given on one
process reaches the session's connections on the others (gateway/app/state)."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Optional

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.app.messages import LANGS, guess_lang, say, ui_lang
from gateway.app.relay import GAVE_UP, HELD, RETRY, Inbound, Outcome
from gateway.app.security import client_ip, origin_allowed
from gateway.app.web.sessions import CLIENT_ID, Claims, SessionRegistry, WebSession

logger = logging.getLogger("sanad.gateway.web")
router = APIRouter()

HELLO_TIMEOUT = 10.0
HELLO_MAX_CHARS = 4096  # a hello holds a token (512 at most) and a language code
RETRY_AFTER = 3  # seconds before the widget sends a message again when Rasa is unreachable


@router.websocket("/ws")
async def chat(ws: WebSocket) -> None:
    state = ws.app.state
    settings = state.settings
    if not origin_allowed(ws, settings.allowed_origins):
        await ws.close(code=4403)  # before accept: the handshake is refused (HTTP 403)
        return
    ip = client_ip(ws)
    try:
        verdict = await state.connection_ip_limiter.hit(ip)
    except state.shared.unavailable_errors as error:
        await ws.accept()
        await _state_unavailable(ws, error)
        return
    await ws.accept()
    try:
        if not verdict.allowed:
            text = say("too_fast", _header_lang(ws), seconds=verdict.retry_seconds)
            await _refuse(ws, 4429, "too_fast", text, retry_after=verdict.retry_seconds)
            return
        session = await _hello(ws)
        if session is None:
            return
        await _join(ws, session)
        try:
            await _receive_loop(ws, session, ip)
        finally:
            session.connections.discard(ws)
            session.last_seen = time.monotonic()
            if not session.connections:  # the citizen left (shown in a waiting handoff)
                # A task of its own: a handler cancelled by a closing connection still records it.
                task = asyncio.create_task(state.relay.presence("web", session.conversation_id, False))
                state.tasks.add(task)
                task.add_done_callback(state.tasks.discard)
    except WebSocketDisconnect:
        pass
    except state.shared.unavailable_errors as error:
        await _state_unavailable(ws, error)
    except Exception as error:  # a bug: the connection ends, one log line, never a traceback with the text
        logger.error("web socket handler failed: %s", type(error).__name__)
        await _close_quietly(ws, 1011)


async def _state_unavailable(ws: WebSocket, error: BaseException) -> None:
    """The shared state (Redis) is away: the widget is told its messages are kept, and the
    connection ends with 1013 (try again later); the widget reconnects with its back-off and sends
    what is still unanswered. Not a 1011: nothing is broken in the gateway."""
    logger.error("the gateway's shared state cannot be reached (%s): connection closed 1013", type(error).__name__)
    try:
        await ws.send_json({"type": "error", "code": "unavailable", "text": say("unavailable", _header_lang(ws)),
                            "retry_after": RETRY_AFTER})
    except Exception:  # already gone
        pass
    await _close_quietly(ws, 1013)


def _header_lang(ws: WebSocket) -> Optional[str]:
    """The browser's language (Accept-Language) for a refusal sent before the hello."""
    return ws.headers.get("accept-language")


async def _refuse(ws: WebSocket, close_code: int, code: str, text: str, **extra: Any) -> None:
    await ws.send_json({"type": "error", "code": code, "text": text, **extra})
    await ws.close(code=close_code, reason=code)


async def _close_quietly(ws: WebSocket, code: int) -> None:
    try:
        await ws.close(code=code)
    except Exception:  # already closed or gone
        pass


async def _hello(ws: WebSocket) -> Optional[WebSession]:
    state = ws.app.state
    try:
        frame = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT)
    except asyncio.TimeoutError:
        await ws.close(code=4408)
        return None
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    raw = frame.get("text")
    malformed = (1003 if raw is None else 1009 if len(raw) > HELLO_MAX_CHARS else None)
    data = _json(raw) if malformed is None else None
    if data is None:  # not a hello at all: a broken or hostile client, not an expired session
        await _refuse(ws, malformed or 1007, "bad_frame", say("not_text", _header_lang(ws)))
        return None
    lang = ui_lang(data["lang"]) if isinstance(data.get("lang"), str) else None
    claims = state.tokens.verify(data.get("token")) if data.get("type") == "hello" else None
    if claims is None:
        await ws.send_json({"type": "error", "code": "bad_session", "text": say("bad_session", lang)})
        await ws.close(code=4401)
        return None
    session = state.sessions.get(claims)
    await ws.send_json({"type": "welcome", "session_id": claims.session_id, "fund": claims.fund,
                        "max_chars": state.settings.MAX_MESSAGE_CHARS})
    return session


async def _join(ws: WebSocket, session: WebSession) -> None:
    """A connection joins its session: the handoff events it has not acknowledged, again."""
    first = not session.connections
    session.connections.add(ws)
    for event in await session.state.handoff_events():
        await ws.send_json({**event, "replay": True})
    if first:
        await ws.app.state.relay.presence("web", session.conversation_id, True)


class WebDelivery:
    """The relay's way to a widget (gateway/app/relay.py `channels["web"]`): a handoff event is
    kept in the session until acknowledged, and sent to its open connections now (on every
    gateway process: True when this one has some)."""

    def __init__(self, sessions: SessionRegistry) -> None:
        self.sessions = sessions

    async def deliver(self, conversation_id: str, fund: str, event: dict[str, Any]) -> bool:
        session_id = conversation_id.removeprefix("web:")
        session = self.sessions.for_delivery(Claims(session_id, fund))
        await session.state.keep_handoff_event(event)
        await session.broadcast(event)
        return bool(session.connections)


async def _receive_loop(ws: WebSocket, session: WebSession, ip: str) -> None:
    state = ws.app.state
    while True:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            return
        if frame.get("bytes") is not None:
            state.relay.count("web", "not_text")
            await _reject_frame(ws, session, "not_text")
            continue
        raw = frame.get("text") or ""
        if len(raw) > 8 * state.settings.MAX_MESSAGE_CHARS + 4096:  # JSON far beyond the text cap
            data = None
            too_big = True
        else:
            data, too_big = _json(raw), False
        if data is None:
            code = "too_long" if too_big else "not_text"
            state.relay.count("web", code)
            await _reject_frame(ws, session, code, length=len(raw), max=state.settings.MAX_MESSAGE_CHARS)
            continue
        kind = data.get("type")
        if kind == "ping":
            await ws.send_json({"type": "pong"})
        elif kind == "ack":
            if isinstance(data.get("id"), str):
                await session.state.acknowledge(data["id"])
        elif kind == "message":
            await _on_message(ws, session, data, ip)
        else:
            await _reject_frame(ws, session, "not_text")


async def _reject_frame(ws: WebSocket, session: WebSession, code: str, **fields: Any) -> None:
    """A frame that is no message: said in the language of the session's last reply."""
    text = say(code, await session.state.reply_lang(), **fields)
    await ws.send_json({"type": "rejected", "client_id": None, "code": code, "text": text})


async def _on_message(ws: WebSocket, session: WebSession, data: dict[str, Any], ip: str) -> None:
    state = ws.app.state
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        await _reject_frame(ws, session, "not_text")
        return
    # Seen before (on any gateway process): never to Rasa twice. A first sight is pending at once,
    # so the same id arriving meanwhile, here or on another process, is not answered twice.
    claim = await session.state.claim(client_id)
    if not claim.fresh:
        await ws.send_json({**claim.event, "replay": True} if claim.event
                           else {"type": "received", "client_id": client_id})
        return
    chosen = data.get("lang") if data.get("lang") in LANGS else None
    raw = data.get("text")
    guessed = guess_lang(raw) if isinstance(raw, str) else None
    notice_lang = chosen or await session.state.reply_lang() or guessed
    inbound = Inbound(
        "web", session.conversation_id, session.claims.fund, raw, button=data.get("button") is True,
        lang=chosen, notice_lang=notice_lang,  # exempt: already charged, coming back after an outage
        rate_keys=() if claim.exempt else (("session", session.claims.session_id), ("ip", ip)))
    message, refusal = await state.relay.admit(inbound)
    if refusal:
        event = {"type": "rejected", "client_id": client_id, "code": refusal.code, "text": refusal.text,
                 **refusal.fields()}
        await session.state.remember(client_id, event)
        await ws.send_json(event)
        return
    await ws.send_json({"type": "received", "client_id": client_id})
    task = asyncio.create_task(_answer(ws, session, client_id, inbound, message))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _answer(ws: WebSocket, session: WebSession, client_id: str, inbound: Inbound, message: str) -> None:
    relay = ws.app.state.relay
    async with session.lock:  # one message of a session at a time, in order
        outcome = await relay.answer(inbound, message,
                                     typing=lambda: session.broadcast({"type": "typing", "on": True}))
        if outcome.kind == RETRY:  # Rasa never saw it: the widget sends it again
            await session.state.retry_later(client_id)
            await session.broadcast({"type": "retry", "client_id": client_id, "code": "unavailable",
                                     "text": outcome.text, "retry_after": RETRY_AFTER})
            return
        event = render(client_id, outcome)
        if outcome.turn is not None and outcome.turn.lang:
            await session.state.set_reply_lang(outcome.turn.lang)
        await session.state.remember(client_id, event)
        if ws not in session.connections:  # the sender's connection went away meanwhile
            session.last_seen = time.monotonic()
        await session.broadcast(event)


def render(client_id: str, outcome: Outcome) -> dict[str, Any]:
    """The widget's event for the relay's outcome (RETRY aside: not remembered, sent again)."""
    if outcome.kind == GAVE_UP:
        return {"type": "rejected", "client_id": client_id, "code": "unavailable_gave_up", "text": outcome.text}
    if outcome.kind == HELD:  # a person holds the conversation: it reached their screen
        return {"type": "forwarded", "client_id": client_id}
    turn = outcome.turn
    return {"type": "bot", "client_id": client_id,
            "turn": {"messages": [m.as_json() for m in turn.messages], "sanad": turn.public_sanad()}}


def _json(raw: Optional[str]) -> Optional[dict[str, Any]]:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    return data if isinstance(data, dict) else None
