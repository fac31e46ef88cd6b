"""The review loop on SQLite and on PostgreSQL (`postgres` tests: a fresh schema on the test
server, see conftest.py): the migrations, the pending-message query, and two supervisors deciding
the same group at the same moment, of whom exactly one wins (the database's conditional UPDATE,
not a check in Python)."""
from __future__ import annotations

import threading
import warnings

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

from gateway.app.agent.db.models import ReviewDecision, Turn
from tests.gateway.agent.conftest import MA, Console
from tests.gateway.agent.test_review import DECISIONS, GROUPS, EXPORT, Feed, declined


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """Every console fixture of this module on both databases."""
    return any_database_url


def test_two_supervisors_deciding_one_group_at_once_exactly_one_wins(console_app, accounts, clock):
    accounts.create("sup_ma_2", MA, "supervisor")
    feed = Feed(console_app, clock)
    for n, words in enumerate(("cotisation enfant", "cotisation fils étudiant", "cotisation de ma fille")):
        feed(words, declined(), conversation=f"web:{n}")
    with TestClient(console_app) as first_client, TestClient(console_app) as second_client:
        first, second = Console(first_client, accounts, clock), Console(second_client, accounts, clock)
        assert first.login("sup_ma").status_code == 200
        assert second.login("sup_ma_2").status_code == 200
        (group,) = first.get(GROUPS).json()["groups"]
        ids = [m["id"] for m in group["messages"]]
        start, answers = threading.Barrier(2), {}

        def decide(console, name, body):
            start.wait()
            answers[name] = console.post(DECISIONS, body)

        threads = [threading.Thread(target=decide, args=(first, "topic", {"turn_ids": ids, "outcome": "intent",
                                                                          "intent": "dependants"})),
                   threading.Thread(target=decide, args=(second, "oos", {"turn_ids": ids, "outcome": "out_of_scope"}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [201, 409], {k: v.text for k, v in answers.items()}
        winner = next(answer.json() for answer in answers.values() if answer.status_code == 201)
        with console_app.state.agent.db() as db:
            assert [d.id for d in db.scalars(select(ReviewDecision))] == [winner["id"]]
            assert {t.review_id for t in db.scalars(select(Turn))} == {winner["id"]}
        assert first.get(GROUPS).json()["groups"] == []
        assert first.get(EXPORT).text.count("\n    - ") == 3


def test_gateway_processes_starting_at_once_migrate_one_database_once(any_database_url):
    """Several gateway processes (`sanad run --scaled`, Compose replicas) bring the console's tables
    up on first use, possibly at the same moment: each succeeds, the tables exist once (on
    PostgreSQL the migrations wait for each other: gateway/alembic/env.py)."""
    import subprocess
    import sys

    from sqlalchemy import create_engine, inspect

    from bot import paths

    migrate = "import sys; from gateway.app.agent.db.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [subprocess.Popen([sys.executable, "-c", migrate, any_database_url], cwd=paths.REPO,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    failures = [process.communicate(timeout=120)[1][-800:] for process in processes if process.wait(timeout=120)]
    assert failures == []
    engine = create_engine(any_database_url)
    try:
        assert {"agent_accounts", "agent_alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
