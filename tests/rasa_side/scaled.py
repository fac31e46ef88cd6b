"""What the scaled-topology tests share: the test PostgreSQL and Redis servers as `Stores` (a
tracker database of its own per test, dropped afterwards; a skip when they cannot be reached,
unless SANAD_REQUIRE_POSTGRES=1 / SANAD_REQUIRE_REDIS=1, as in CI, make it a failure), and a widget
citizen speaking the gateway's real WebSocket protocol."""
from __future__ import annotations

import asyncio
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from bot.tooling.stores import Stores, StoreUnreachable

POSTGRES_URL = os.environ.get("SANAD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SANAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def stores_for_tests(database: str) -> Stores:
    postgres, redis = urlsplit(POSTGRES_URL), urlsplit(REDIS_URL)
    return Stores(postgres_host=postgres.hostname or "127.0.0.1", postgres_port=postgres.port or 5432,
                  postgres_db=database, postgres_user=postgres.username or "postgres",
                  postgres_password=postgres.password or "", redis_host=redis.hostname or "127.0.0.1",
                  redis_port=redis.port or 6379, redis_password=redis.password or "",
                  gateway_redis_db=int((redis.path or "/0").strip("/") or 0))


def fresh_stores() -> Iterator[Stores]:
    """The `stores` fixture (tests/rasa_side/conftest.py): the test servers, with a tracker
    database of its own on PostgreSQL, dropped afterwards."""
    stores = stores_for_tests(f"sanad_scaled_{uuid.uuid4().hex[:10]}")
    try:
        stores.check()
    except StoreUnreachable as error:
        required = [name for name in ("SANAD_REQUIRE_POSTGRES", "SANAD_REQUIRE_REDIS") if os.environ.get(name) == "1"]
        if required:
            pytest.fail(f"{error} ({'=1, '.join(required)}=1)", pytrace=False)
        pytest.skip(f"the scaled topology needs PostgreSQL and Redis: {error}")
    yield stores
    stores.drop_database()


class Widget:
    """One citizen of the web widget: a session, a WebSocket, each message's final event."""

    def __init__(self, gateway_url: str, fund: str = "cnss_ma") -> None:
        self.gateway_url, self.fund = gateway_url, fund
        request = urllib.request.Request(f"{gateway_url}/api/session", data=json.dumps({"fund": fund}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        self.token, self.session_id = body["token"], body["session_id"]
        self.events: list[dict] = []

    @property
    def conversation_id(self) -> str:
        return f"web:{self.session_id}"

    async def say(self, text: str, via: str | None = None, client_id: str | None = None,
                  leave_after_received: bool = False) -> dict:
        """The message's final event (`bot`, `rejected`...), on a fresh connection each time (a
        phone's widget reconnects often), to the gateway `via` (default: the session's own);
        every event received is kept in `events`. `leave_after_received`: the connection is closed
        as soon as the gateway has the message (a phone losing its network), the event returned."""
        import websockets

        client_id = client_id or uuid.uuid4().hex
        url = (via or self.gateway_url).replace("http", "ws", 1) + "/ws"
        async with websockets.connect(url, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello", "token": self.token}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "welcome"
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 90))
                self.events.append(event)
                if event.get("client_id") != client_id:
                    continue
                if event["type"] in ("bot", "rejected", "retry") or (leave_after_received and event["type"] == "received"):
                    return event
