"""Publish/subscribe between the handoff's parts: the inbox and transcript updates each fund's
consoles receive (topic `fund:<fund>`) and the events a citizen's channel shows (topic
`citizen`). In-process by default (one gateway process); a shared broker (Redis) replaces it
behind the same two methods when several gateway processes serve one fund."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

logger = logging.getLogger("sanad.gateway.agent.bus")


class Bus(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...


class InProcessBus:
    """Each subscriber has its own bounded queue: a console that stops reading (a frozen tab)
    loses its oldest events, never blocks a publisher (it reloads the inbox when it comes back)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._queues: dict[str, set[asyncio.Queue]] = {}

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._queues.get(topic, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        self._queues.setdefault(topic, set()).add(queue)
        try:
            yield _drain(queue)
        finally:
            subscribers = self._queues.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._queues[topic]

    def subscribers(self, topic: str) -> int:
        return len(self._queues.get(topic, ()))


async def _drain(queue: asyncio.Queue) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await queue.get()
