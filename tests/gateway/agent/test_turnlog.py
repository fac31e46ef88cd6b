"""The turn log's group commit (gateway/app/agent/turnlog.py): turns arriving together are written in
one transaction, each caller still waits for its own row, and a batch keeps the per-conversation
rules (a choice settles the clarification just before it, even when both are in one batch). The
tests with a console database run on SQLite and on PostgreSQL (`postgres` tests)."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import event, select, update

from gateway.app.agent.db.models import ReviewDecision, Turn
from gateway.app.agent.state import AgentConsole
from gateway.app.agent.turnlog import BatchWriter, TurnLog
from gateway.app.rasa_client import parse_replies
from tests.gateway.agent.conftest import MA, START
from tests.gateway.stubs import answer, clarify, faq_answer

CHOICE = '/choose_topic{"topic":"payment_channels"}'


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """Every console fixture of this module on both databases."""
    return any_database_url


def logged(console) -> list[tuple]:
    with console.db() as db:
        return [(r.kind, r.settled, r.masked_text) for r in db.scalars(select(Turn).order_by(Turn.id))]


def test_callers_arriving_while_a_batch_is_written_share_the_next_transaction():
    batches: list[list[int]] = []
    threads: set[str] = set()
    first_started = threading.Event()

    def write(items):
        batches.append(list(items))
        threads.add(threading.current_thread().name)
        first_started.set()
        time.sleep(0.2)  # a slow commit: everyone else queues meanwhile
        return [item * 10 for item in items]

    async def run():
        commit = BatchWriter(write)
        leader = asyncio.create_task(commit.submit(0))
        await asyncio.to_thread(first_started.wait, 5)
        followers = [asyncio.create_task(commit.submit(n)) for n in range(1, 9)]
        return await asyncio.gather(leader, *followers)

    assert asyncio.run(run()) == [n * 10 for n in range(9)]  # each caller gets its own row back
    assert batches == [[0], list(range(1, 9))]  # eight turns, one transaction, in their order
    assert threading.current_thread().name not in threads  # written off the event loop


def test_a_failed_batch_fails_each_of_its_callers_and_not_the_next():
    calls = []

    def write(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return list(items)

    async def run():
        commit = BatchWriter(write)
        first = await asyncio.gather(commit.submit("a"), commit.submit("b"), return_exceptions=True)
        return first, await commit.submit("c")

    first, after = asyncio.run(run())
    assert [type(r) for r in first] == [RuntimeError, RuntimeError] and after == "c"
    assert calls == [["a", "b"], ["c"]]


def test_a_caller_that_stops_waiting_does_not_stop_the_others():
    release = threading.Event()

    def write(items):
        release.wait(5)
        return list(items)

    async def run():
        commit = BatchWriter(write)
        gone, stays = asyncio.create_task(commit.submit("gone")), asyncio.create_task(commit.submit("stays"))
        await asyncio.sleep(0.05)
        gone.cancel()
        release.set()
        return await stays

    assert asyncio.run(run()) == "stays"


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


def test_a_choice_settles_the_clarification_another_gateway_process_logged(console_app, agent_settings):
    """Several gateway processes write the same conversations (Telegram's webhook may reach any
    of them): whether the turn before was a waiting clarification is the database's to say."""
    here_console = console_app.state.agent
    there_console = AgentConsole(agent_settings, here_console.number_key)  # the same secret, another process
    here, there = TurnLog(here_console), TurnLog(there_console)
    try:
        here.record("telegram", "tg:7", MA, "cotisation en retard", parse_replies(clarify()))
        there.record("telegram", "tg:7", MA, CHOICE, parse_replies(faq_answer()))
        there.record("telegram", "tg:8", MA, "retard", parse_replies(clarify()))
        here.record("telegram", "tg:9", MA, "comment payer", parse_replies(faq_answer()))  # not tg:8's
    finally:
        there_console.engine.dispose()
    assert logged(here_console) == [("clarify", True, None), ("answer", None, None),
                                    ("clarify", False, "retard"), ("answer", None, None)]


def test_only_a_waiting_clarification_just_before_the_choice_is_settled(console_app):
    console = console_app.state.agent
    log = TurnLog(console)
    small_talk = parse_replies(answer("Bonjour !", decision="greet"))

    def turns(conversation: str, *said: tuple) -> None:
        for text, replies in said:
            turn = parse_replies(replies) if isinstance(replies, list) else replies
            log.record("web", conversation, MA, text, turn)

    turns("web:a", ("retard", clarify()), ("bonjour", small_talk), ("payer", faq_answer()))  # not just before
    turns("web:b", ("cotisation", clarify()), ("retraite", clarify()), (CHOICE, faq_answer()))  # the last one
    turns("web:c", ("carte", clarify()))
    with console.db() as db:  # a supervisor decides on it before the citizen's choice comes
        decision = ReviewDecision(at=START, fund=MA, supervisor="sup_ma", outcome="out_of_scope", intent=None,
                                  examples=1)
        db.add(decision)
        db.flush()
        db.execute(update(Turn).where(Turn.masked_text == "carte").values(review_id=decision.id))
        db.commit()
    turns("web:c", (CHOICE, faq_answer()))
    turns("web:d", ("paiement", clarify()), ("/human_handoff", None))  # a person answered: no choice
    assert logged(console) == [
        ("clarify", False, "retard"), ("small_talk", None, None), ("answer", None, None),
        ("clarify", False, "cotisation"), ("clarify", True, None), ("answer", None, None),
        ("clarify", False, "carte"), ("answer", None, None),  # reviewed: kept as the review decided it
        ("clarify", False, "paiement"), ("agent", None, None)]


def test_a_turn_reads_nothing_back_from_the_log(console_app):
    """Issue 18: reading each conversation's last turn back before writing was a fifth of the
    gateway's CPU samples. A settling turn costs one conditional UPDATE and the INSERT; any other
    turn, the INSERT alone."""
    console = console_app.state.agent
    log = TurnLog(console)
    log.record("web", "web:warm", MA, "bonjour", parse_replies(faq_answer()))  # the tables migrated
    statements: list[str] = []

    def seen(connection, cursor, statement, parameters, context, executemany) -> None:
        if "agent_turns" in statement:
            statements.append(statement.split()[0].upper())

    event.listen(console.engine, "before_cursor_execute", seen)
    try:
        log.record("web", "web:1", MA, "cotisation en retard", parse_replies(clarify()))
        log.record("web", "web:1", MA, CHOICE, parse_replies(faq_answer()))
        log.record("web", "web:1", MA, "et pour la retraite ?", parse_replies(faq_answer()))
    finally:
        event.remove(console.engine, "before_cursor_execute", seen)
    assert statements == ["INSERT", "UPDATE", "INSERT", "UPDATE", "INSERT"]
    assert logged(console)[1:] == [("clarify", True, None), ("answer", None, None), ("answer", None, None)]
