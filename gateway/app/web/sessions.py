"""Web chat sessions.

A session is a random id, signed into a token (itsdangerous) that the widget keeps in the
browser's localStorage: the gateway needs no database to recognise a returning citizen, and a
tampered or expired token is refused. The Rasa conversation of a session is `web:<session id>`.

Per session the gateway keeps what makes delivery exactly-once, in this process's memory or, with
SANAD_GATEWAY_REDIS_URL, in Redis for every gateway process (gateway/app/state): the outcome of
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
from typing import Any, Awaitable, Callable, Optional, Protocol

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


@dataclass(frozen=True)
class Claim:
    """What `SessionState.claim` found for a client id."""
    fresh: bool  # unknown until now, and now pending: this process answers it
    event: Optional[dict[str, Any]] = None  # known: the event that answered it (None while pending)
    exempt: bool = False  # already charged to the rate limits, coming back after an outage


class SessionState(Protocol):
    """What makes a session's delivery exactly-once, in this process (`MemorySessionState`) or
    shared by every gateway process (gateway/app/state/redis_sessions.py)."""

    async def claim(self, client_id: str) -> Claim:
        """Atomically: a client id seen for the first time becomes pending (fresh), else what it got."""

    async def remember(self, client_id: str, event: dict[str, Any]) -> None:
        """The event that answered a client id, replayed if the id comes again."""

    async def retry_later(self, client_id: str) -> None:
        """Rasa never got it: forgotten (the widget sends it again), and exempt from the limits."""

    async def reply_lang(self) -> Optional[str]: ...

    async def set_reply_lang(self, lang: str) -> None: ...

    async def keep_handoff_event(self, event: dict[str, Any]) -> None:
        """A person's message or a notice, kept until the widget acknowledges it."""

    async def handoff_events(self) -> list[dict[str, Any]]:
        """The handoff events not acknowledged yet, oldest first."""

    async def acknowledge(self, event_id: str) -> None: ...

    def holds_handoff_events(self) -> bool:
        """True when forgetting the session object would lose handoff events (kept in memory)."""


@dataclass
class MemorySessionState:
    """The exactly-once state in this process's memory."""
    # client id -> the event that answered it (None while pending); most recent last
    outcomes: "OrderedDict[str, Optional[dict[str, Any]]]" = field(default_factory=OrderedDict)
    rate_exempt: set[str] = field(default_factory=set)  # ids already charged, coming back after an outage
    lang: Optional[str] = None
    # live handoff events (a person's message, a notice) by id, until the widget acknowledges them
    handoff_outbox: "OrderedDict[str, dict[str, Any]]" = field(default_factory=OrderedDict)

    MAX_OUTCOMES = 500
    MAX_HANDOFF_EVENTS = 200

    async def claim(self, client_id: str) -> Claim:
        exempt = client_id in self.rate_exempt
        if client_id in self.outcomes:
            return Claim(False, self.outcomes[client_id], exempt)
        self._keep(client_id, None)
        return Claim(True, None, exempt)

    async def remember(self, client_id: str, event: dict[str, Any]) -> None:
        self._keep(client_id, event)

    def _keep(self, client_id: str, event: Optional[dict[str, Any]]) -> None:
        self.outcomes[client_id] = event
        self.outcomes.move_to_end(client_id)
        while len(self.outcomes) > self.MAX_OUTCOMES:
            old, _ = self.outcomes.popitem(last=False)
            self.rate_exempt.discard(old)

    async def retry_later(self, client_id: str) -> None:
        self.outcomes.pop(client_id, None)
        self.rate_exempt.add(client_id)

    async def reply_lang(self) -> Optional[str]:
        return self.lang

    async def set_reply_lang(self, lang: str) -> None:
        self.lang = lang

    async def keep_handoff_event(self, event: dict[str, Any]) -> None:
        self.handoff_outbox[event["id"]] = event
        while len(self.handoff_outbox) > self.MAX_HANDOFF_EVENTS:
            self.handoff_outbox.popitem(last=False)

    async def handoff_events(self) -> list[dict[str, Any]]:
        return list(self.handoff_outbox.values())

    async def acknowledge(self, event_id: str) -> None:
        self.handoff_outbox.pop(event_id, None)

    def holds_handoff_events(self) -> bool:
        return bool(self.handoff_outbox)


Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _no_other_process(session_id: str, event: dict[str, Any]) -> None:
    pass


@dataclass
class WebSession:
    """A session as this process sees it: its open connections here (a WebSocket is local) and
    the lock that answers its messages in order; its exactly-once state in `state`."""
    claims: Claims
    state: SessionState = field(default_factory=MemorySessionState)
    # how an event reaches the session's connections on the other gateway processes
    publish: Publish = _no_other_process
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: set[WebSocket] = field(default_factory=set)
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def conversation_id(self) -> str:
        return f"web:{self.claims.session_id}"

    async def broadcast(self, event: dict[str, Any]) -> None:
        """To every connection of the session, on this process and the others."""
        await self.broadcast_here(event)
        await self.publish(self.claims.session_id, event)

    async def broadcast_here(self, event: dict[str, Any]) -> None:
        for ws in list(self.connections):
            try:
                await ws.send_json(event)
            except Exception:  # a connection that just went away
                self.connections.discard(ws)


class SessionRegistry:
    """The live sessions of this process. A session with no connection and no activity for
    `idle_seconds` is forgotten (a citizen coming back later starts a fresh dedup window, their
    Rasa conversation is untouched), unless a person's messages still wait for its widget
    (for `handoff_idle_seconds`). With a shared state (Redis), forgetting a session object here
    loses nothing: its state lives on in Redis, under its own expiry.

    `state_for(session id)` gives a session's exactly-once state; `publish(session id, event)`
    carries an event to the session's connections on the other gateway processes, where
    `broadcast_here` hands it to theirs."""

    def __init__(self, idle_seconds: float = 3600.0, max_sessions: int = 50_000,
                 clock: Callable[[], float] = time.monotonic, handoff_idle_seconds: float = 24 * 3600.0,
                 state_for: Callable[[str], SessionState] = lambda session_id: MemorySessionState(),
                 publish: Publish = _no_other_process) -> None:
        self.idle_seconds, self.max_sessions, self.clock = idle_seconds, max_sessions, clock
        self.handoff_idle_seconds = handoff_idle_seconds
        self.state_for, self.publish = state_for, publish
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def _new(self, claims: Claims) -> WebSession:
        return WebSession(claims, self.state_for(claims.session_id), self.publish)

    async def broadcast_here(self, session_id: str, event: dict[str, Any]) -> None:
        """An event published by another process: to this process's connections of the session."""
        session = self._sessions.get(session_id)
        if session is not None:
            await session.broadcast_here(event)

    def for_delivery(self, claims: Claims) -> WebSession:
        """The session a handoff event is for, live or not (its widget may come back later)."""
        session = self._sessions.get(claims.session_id)
        if session is None:
            session = self._sessions[claims.session_id] = self._new(claims)
            session.last_seen = self.clock()
        return session

    def get(self, claims: Claims) -> WebSession:
        self.sweep()
        session = self._sessions.get(claims.session_id)
        if session is None:
            session = self._sessions[claims.session_id] = self._new(claims)
        self._sessions.move_to_end(claims.session_id)
        session.last_seen = self.clock()
        return session

    def sweep(self) -> None:
        now = self.clock()
        def idle(s: WebSession) -> float:
            return self.handoff_idle_seconds if s.state.holds_handoff_events() else self.idle_seconds
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
