"""Order and patience on Telegram: one message of a user at a time (per-user locks), and the
messages kept while Rasa is unreachable, sent again in order as soon as it is back."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional

from gateway.app.relay import Inbound


@dataclass
class Job:
    """One citizen message on its way to Rasa."""
    user_id: int
    chat_id: int
    inbound: Inbound
    message: str  # as the relay admitted it
    user_data: dict[str, Any]
    language_code: Optional[str]


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Any, asyncio.Lock] = {}
        self._users: dict[Any, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


Deliver = Callable[[Job], Awaitable[bool]]  # False: Rasa never got it, keep the job
Tell = Callable[[Job], Awaitable[None]]  # a sentence to the job's user


class RetryQueue:
    """Per user, the jobs kept while Rasa is unreachable. `submit` delivers a job at once unless
    older ones wait; a job Rasa never got starts the queue, retried with back-off (`retry_delays`)
    for `retry_for` seconds, after which the user is told to ask again later. `kept` tells the user
    their message is kept (before any retry), `give_up` that it will not be sent."""

    def __init__(self, deliver: Deliver, kept: Tell, give_up: Tell, retry_delays: tuple[float, ...],
                 retry_for: float) -> None:
        self.deliver, self.kept, self.give_up = deliver, kept, give_up
        self.retry_delays, self.retry_for = retry_delays, retry_for
        self.locks = KeyedLocks()
        self.pending: dict[int, deque[Job]] = {}
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, job: Job) -> None:
        """Deliver `job`, or keep it behind the user's waiting ones."""
        async with self.locks.hold(job.user_id):
            queue = self.pending.get(job.user_id)
            if queue is not None:  # messages kept while Rasa is down: this one after them
                queue.append(job)
                return
            if await self.deliver(job):
                return
            self.pending[job.user_id] = deque([job])
            await self.kept(job)
            task = asyncio.create_task(self._retry(job.user_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _retry(self, user_id: int) -> None:
        """Send a user's kept messages again, oldest first, until Rasa answers (or give up
        after `retry_for` seconds and say so)."""
        queue = self.pending[user_id]
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        try:
            while queue:
                await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays) - 1)])
                async with self.locks.hold(user_id):
                    while queue:
                        if not await self.deliver(queue[0]):
                            attempt += 1
                            if time.monotonic() > deadline:
                                job = queue[0]
                                queue.clear()
                                await self.give_up(job)
                            break
                        queue.popleft()
                        attempt = 0
        finally:
            self.pending.pop(user_id, None)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
