"""Web chat sessions.

A session is a random id, signed into a token (itsdangerous) that the widget keeps in the
browser's localStorage: the gateway needs no database to recognise a returning citizen, and a
tampered or expired token is refused. The Rasa conversation of a session is `web:<session id>`.

Per session the gateway keeps, in memory only, what makes delivery exactly-once: the outcome of
each client message id (pending, or the event that answered it, replayed if the same id comes
again). It never stores message texts: the conversation history lives in the citizen's browser
and in Rasa's tracker store. The one exception is a person's messages during a live handoff
(`handoff_outbox`): kept until the widget acknowledges them, so a widget that was away gets each
one, once, when it comes back."""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from fastapi import WebSocket
from itsdangerous import BadData, URLSafeTimedSerializer

from gateway.app.config import FUNDS

SALT = "sanad.gateway.web-session.v1"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Claims:
    session_id: str
    fund: str


class SessionTokens:
    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.max_age = max_age

    def issue(self, fund: str, session_id: Optional[str] = None) -> tuple[Claims, str]:
        claims = Claims(session_id or secrets.token_urlsafe(16), fund)
        return claims, self._serializer.dumps({"sid": claims.session_id, "fund": claims.fund})

    def verify(self, token: object) -> Optional[Claims]:
        if not isinstance(token, str) or not token or len(token) > 512:
            return None
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except BadData:  # bad signature, expired, malformed
            return None
        if not isinstance(data, dict):
            return None
        sid, fund = data.get("sid"), data.get("fund")
        if not isinstance(sid, str) or not SESSION_ID.match(sid) or fund not in FUNDS:
            return None
        return Claims(sid, fund)


@dataclass
class WebSession:
    claims: Claims
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: set[WebSocket] = field(default_factory=set)
    # client id -> the event that answered it (None while pending); most recent last
    outcomes: "OrderedDict[str, Optional[dict[str, Any]]]" = field(default_factory=OrderedDict)
    rate_exempt: set[str] = field(default_factory=set)  # ids already charged, coming back after an outage
    reply_lang: Optional[str] = None
    last_seen: float = field(default_factory=time.monotonic)
    # live handoff events (a person's message, a notice) by id, until the widget acknowledges them
    handoff_outbox: "OrderedDict[str, dict[str, Any]]" = field(default_factory=OrderedDict)

    MAX_OUTCOMES = 500
    MAX_HANDOFF_EVENTS = 200

    @property
    def conversation_id(self) -> str:
        return f"web:{self.claims.session_id}"

    def remember(self, client_id: str, event: Optional[dict[str, Any]]) -> None:
        self.outcomes[client_id] = event
        self.outcomes.move_to_end(client_id)
        while len(self.outcomes) > self.MAX_OUTCOMES:
            old, _ = self.outcomes.popitem(last=False)
            self.rate_exempt.discard(old)

    def forget(self, client_id: str) -> None:
        self.outcomes.pop(client_id, None)

    def keep_handoff_event(self, event: dict[str, Any]) -> None:
        self.handoff_outbox[event["id"]] = event
        while len(self.handoff_outbox) > self.MAX_HANDOFF_EVENTS:
            self.handoff_outbox.popitem(last=False)

    async def broadcast(self, event: dict[str, Any]) -> None:
        for ws in list(self.connections):
            try:
                await ws.send_json(event)
            except Exception:  # a connection that just went away
                self.connections.discard(ws)


class SessionRegistry:
    """The live sessions of this process. A session with no connection and no activity for
    `idle_seconds` is forgotten (a citizen coming back later starts a fresh dedup window, their
    Rasa conversation is untouched), unless a person's messages still wait for its widget
    (for `handoff_idle_seconds`)."""

    def __init__(self, idle_seconds: float = 3600.0, max_sessions: int = 50_000,
                 clock: Callable[[], float] = time.monotonic, handoff_idle_seconds: float = 24 * 3600.0) -> None:
        self.idle_seconds, self.max_sessions, self.clock = idle_seconds, max_sessions, clock
        self.handoff_idle_seconds = handoff_idle_seconds
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def for_delivery(self, claims: Claims) -> WebSession:
        """The session a handoff event is for, live or not (its widget may come back later)."""
        session = self._sessions.get(claims.session_id)
        if session is None:
            session = self._sessions[claims.session_id] = WebSession(claims)
            session.last_seen = self.clock()
        return session

    def get(self, claims: Claims) -> WebSession:
        self.sweep()
        session = self._sessions.get(claims.session_id)
        if session is None:
            session = self._sessions[claims.session_id] = WebSession(claims)
        self._sessions.move_to_end(claims.session_id)
        session.last_seen = self.clock()
        return session

    def sweep(self) -> None:
        now = self.clock()
        def idle(s: WebSession) -> float:
            return self.handoff_idle_seconds if s.handoff_outbox else self.idle_seconds
        for sid in [sid for sid, s in self._sessions.items()
                    if not s.connections and not s.lock.locked() and now - s.last_seen > idle(s)]:
            del self._sessions[sid]
        while len(self._sessions) > self.max_sessions:
            sid, session = next(iter(self._sessions.items()))
            if session.connections:
                break
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)
