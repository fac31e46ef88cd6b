"""Which conversations have an open handoff, known in this process's memory (issue 18).

The relay asks the desk before every citizen turn whether a person holds the conversation. Asking
the database each time cost a worker-thread hop, a session and a query per turn, for a question
whose answer is almost always no. The index answers that "no" from memory; only a conversation it
lists is looked up in the database, whose row stays the authority (waiting, claimed, or ended
since: then the conversation leaves the list).

It stays right across gateway processes in three ways: a handoff this process opens is added at
once; one another process opens arrives as an event on the handoff bus (`OPENED_TOPIC`, Redis
behind several processes); and the whole list is read again from the database when it is older
than `refresh_seconds`, which bounds how long a lost event (Redis restarted) can hide a handoff.
A hidden handoff costs little even then: while a handoff waits the assistant answers anyway, and a
claim (the state in which the assistant must stay silent) is only made on a listed conversation."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Optional

logger = logging.getLogger("sanad.gateway.agent.handoff")

OPENED_TOPIC = "handoff_opened"  # event: {"channel": ..., "conversation_id": ...}
Key = tuple[str, str]  # (channel, conversation id)


class OpenHandoffIndex:
    def __init__(self, load: Callable[[], Awaitable[set[Key]]], refresh_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`load()` reads the keys of every open handoff from the database."""
        self._load, self.refresh_seconds, self.clock = load, refresh_seconds, clock
        self._keys: set[Key] = set()
        self._loaded_at: Optional[float] = None
        self._loading: Optional[asyncio.Task] = None
        self._added_while_loading: set[Key] = set()

    async def may_hold(self, channel: str, conversation_id: str) -> bool:
        """False when no handoff is open for the conversation; True when one may be (ask the
        database). Raises when the list was never read and cannot be."""
        await self._fresh()
        return (channel, conversation_id) in self._keys

    @property
    def listed(self) -> frozenset[Key]:
        return frozenset(self._keys)

    def add(self, channel: str, conversation_id: str) -> None:
        self._keys.add((channel, conversation_id))
        if self._loading is not None:  # the read under way may predate this handoff
            self._added_while_loading.add((channel, conversation_id))

    def discard(self, channel: str, conversation_id: str) -> None:
        self._keys.discard((channel, conversation_id))

    async def _fresh(self) -> None:
        if self._loaded_at is not None and self.clock() - self._loaded_at < self.refresh_seconds:
            return
        if self._loading is None:  # one read for all the turns that find the list stale at once
            self._added_while_loading = set()
            self._loading = asyncio.create_task(self._reload())
        loading = self._loading
        try:
            await asyncio.shield(loading)
        except Exception as error:
            if self._loaded_at is None:
                raise
            # The database is away: the last list read stands, and the next turn tries again.
            logger.warning("open handoffs not re-read: %s", type(error).__name__)

    async def _reload(self) -> None:
        started = self.clock()
        try:
            keys = await self._load()
            self._keys = keys | self._added_while_loading
            self._loaded_at = started
        finally:
            self._loading = None
