"""The index of open handoffs (gateway/app/agent/handoff/index.py): the relay's "does a person hold
this conversation?" answered from memory, the database read once per refresh period."""
from __future__ import annotations

import asyncio

import pytest

from gateway.app.agent.handoff.index import OpenHandoffIndex
from tests.gateway.stubs import MonotonicClock


class Database:
    """The open handoffs' keys as the database holds them, and how often they were read."""

    def __init__(self, keys=()) -> None:
        self.keys = set(keys)
        self.reads = 0
        self.down = False
        self.gate: asyncio.Event | None = None  # when set, a read waits for it

    async def load(self) -> set[tuple[str, str]]:
        self.reads += 1
        snapshot = set(self.keys)
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ConnectionError("database away")
        return snapshot


@pytest.fixture
def clock() -> MonotonicClock:
    return MonotonicClock()


async def test_the_list_is_read_once_per_period_and_again_after_it(clock):
    database = Database({("web", "web:a")})
    index = OpenHandoffIndex(database.load, refresh_seconds=5, clock=clock)
    assert await index.may_hold("web", "web:a") and not await index.may_hold("web", "web:b")
    database.keys.add(("web", "web:b"))  # opened by another process, its event lost
    clock.now += 4.9
    assert not await index.may_hold("web", "web:b") and database.reads == 1
    clock.now += 0.1
    assert await index.may_hold("web", "web:b") and database.reads == 2


async def test_turns_that_find_the_list_stale_together_share_one_read(clock):
    database = Database()
    database.gate = asyncio.Event()
    index = OpenHandoffIndex(database.load, refresh_seconds=5, clock=clock)
    waiting = [asyncio.create_task(index.may_hold("web", f"web:{n}")) for n in range(20)]
    await asyncio.sleep(0.01)
    database.gate.set()
    assert await asyncio.gather(*waiting) == [False] * 20
    assert database.reads == 1


async def test_a_handoff_opened_during_a_read_is_not_lost_by_it(clock):
    database = Database()
    database.gate = asyncio.Event()
    index = OpenHandoffIndex(database.load, refresh_seconds=5, clock=clock)
    reading = asyncio.create_task(index.may_hold("web", "web:x"))
    await asyncio.sleep(0.01)  # the read has its snapshot, without the new handoff
    index.add("tg", "tg:42")
    database.gate.set()
    await reading
    assert await index.may_hold("tg", "tg:42")


async def test_with_the_database_away_the_last_list_stands_and_is_read_again_next_turn(clock):
    database = Database({("web", "web:a")})
    index = OpenHandoffIndex(database.load, refresh_seconds=5, clock=clock)
    assert await index.may_hold("web", "web:a")
    database.down, clock.now = True, clock.now + 10
    assert await index.may_hold("web", "web:a") and database.reads == 2
    assert await index.may_hold("web", "web:a") and database.reads == 3
    database.down = False
    database.keys = set()
    assert not await index.may_hold("web", "web:a")


async def test_a_list_never_read_is_an_error_the_relay_handles(clock):
    database = Database()
    database.down = True
    index = OpenHandoffIndex(database.load, refresh_seconds=5, clock=clock)
    with pytest.raises(ConnectionError):
        await index.may_hold("web", "web:a")


async def test_a_refresh_period_of_zero_reads_every_time(clock):
    database = Database()
    index = OpenHandoffIndex(database.load, refresh_seconds=0, clock=clock)
    for _ in range(3):
        await index.may_hold("web", "web:a")
    assert database.reads == 3
