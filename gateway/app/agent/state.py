"""The console's state on the gateway app (`app.state.agent`): settings, database, clock, the
affiliate API client and the recent rankings whose suggestions may be reported shown or copied."""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import httpx
from sqlalchemy.orm import Session

from gateway.app.agent.backend_client import BackendClient
from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.migrate import upgrade
from gateway.app.agent.db.session import make_engine, make_sessionmaker

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Ranking:
    """What one assist answer showed (no text): enough to record its suggestions' fate."""
    account_id: int
    fund: str
    lang: str
    topics: list[str]
    recorded: set[str] = field(default_factory=set)  # "shown", "copied:<rank>"
    created: float = field(default_factory=time.monotonic)


class RecentRankings:
    """The rankings of the last minutes, by an unguessable id handed to the console: an event
    names one, and what is recorded comes from here, never from the browser. Memory only: a
    ranking outlives its use by minutes, not a restart."""

    def __init__(self, max_items: int = 20_000, ttl_seconds: float = 3600.0) -> None:
        self.max_items, self.ttl = max_items, ttl_seconds
        self._items: OrderedDict[str, Ranking] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, ranking: Ranking) -> str:
        ranking_id = secrets.token_urlsafe(16)
        with self._lock:
            self._items[ranking_id] = ranking
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return ranking_id

    def get(self, ranking_id: str, account_id: int) -> Optional[Ranking]:
        with self._lock:
            ranking = self._items.get(ranking_id)
        if ranking is None or ranking.account_id != account_id or time.monotonic() - ranking.created > self.ttl:
            return None
        return ranking


class AgentConsole:
    def __init__(self, settings: AgentSettings, number_key: str, clock: Optional[Clock] = None,
                 backend_transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.settings = settings
        self.number_key = number_key  # keys the audit log's number hashes (supervisors filter by number)
        self.clock = clock or utc_now
        self.engine = make_engine(settings.DATABASE_URL)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.backend = BackendClient(settings.BACKEND_URL, settings.BACKEND_TOKEN,
                                     settings.BACKEND_TIMEOUT_SECONDS, transport=backend_transport)
        self.rankings = RecentRankings()
        self.desk = None  # the live handoff desk (handoff/desk.py), set by app.install
        self._migrated = False
        self._migrating = threading.Lock()

    def db(self) -> Session:
        """A database session; the tables are brought up to date on first use (the gateway's
        other routes never touch the console's database)."""
        if not self._migrated:
            with self._migrating:
                if not self._migrated:
                    upgrade(self.settings.DATABASE_URL)
                    self._migrated = True
        return self.sessionmaker()

    async def aclose(self) -> None:
        await self.backend.aclose()
        self.engine.dispose()
