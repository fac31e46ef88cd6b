"""The turn log's group commit (gateway/app/agent/turnlog.py): turns arriving together are written in
one transaction, each caller still waits for its own row, and a batch keeps the per-conversation
rules (a choice settles the clarification just before it, even when both are in one batch)."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import select

from gateway.app.agent.db.models import Turn
from gateway.app.agent.turnlog import GroupCommit, TurnLog
from gateway.app.rasa_client import parse_replies
from tests.gateway.stubs import clarify, faq_answer


def test_callers_arriving_while_a_batch_is_written_share_the_next_transaction():
    batches: list[list[int]] = []
    first_started = threading.Event()

    def write(items):
        batches.append(list(items))
        first_started.set()
        time.sleep(0.2)  # a slow commit: everyone else queues meanwhile
        return [item * 10 for item in items]

    commit = GroupCommit(write)
    results: dict[int, int] = {}
    leader = threading.Thread(target=lambda: results.__setitem__(0, commit.submit(0)))
    leader.start()
    first_started.wait(5)
    followers = [threading.Thread(target=lambda n=n: results.__setitem__(n, commit.submit(n))) for n in range(1, 9)]
    for thread in followers:
        thread.start()
    for thread in [leader, *followers]:
        thread.join(10)
    assert results == {n: n * 10 for n in range(9)}  # each caller gets its own row back
    assert batches[0] == [0] and sorted(sum(batches[1:], [])) == list(range(1, 9))
    assert len(batches) == 2, batches  # eight turns, one transaction


def test_a_failed_batch_fails_each_of_its_callers_and_not_the_next():
    calls = []

    def write(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return list(items)

    commit = GroupCommit(write)
    with pytest.raises(RuntimeError):
        commit.submit("a")
    assert commit.submit("b") == "b"


def test_a_choice_in_the_same_batch_as_its_clarification_settles_it(console_app):
    log = TurnLog(console_app.state.agent)
    clarification = log.pending("web", "web:batch", "cnss_ma", "cotisation en retard", parse_replies(clarify()))
    choice = log.pending("web", "web:batch", "cnss_ma", '/choose_topic{"topic":"payment_channels"}',
                         parse_replies(faq_answer()))
    other = log.pending("web", "web:other", "cnss_ma", "cotisation", parse_replies(clarify()))
    log._write([clarification, choice, other])
    with console_app.state.agent.db() as db:
        rows = db.scalars(select(Turn).order_by(Turn.id)).all()
    assert [(r.kind, r.settled, r.masked_text) for r in rows] == [
        ("clarify", True, None), ("answer", None, None), ("clarify", False, "cotisation")]


def test_concurrent_turns_through_the_observer_are_all_logged(console_app):
    log = TurnLog(console_app.state.agent)

    async def many():
        await asyncio.gather(*(log.record_turn("web", f"web:{n}", "cnss_ma", "payer", parse_replies(faq_answer()))
                               for n in range(40)))

    asyncio.run(many())
    with console_app.state.agent.db() as db:
        assert len(db.scalars(select(Turn)).all()) == 40
