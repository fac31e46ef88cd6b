"""Expired verifications, tokens, locks and old failures are deleted, at start, periodically and
on demand; nothing that can still be used is."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from backend.app import manage
from backend.app.api import deps
from backend.app.retention import purge_expired

pytestmark = pytest.mark.both_databases
TABLES = ("verifications", "verification_tokens", "locks", "failed_attempts")


def row_counts(app) -> dict[str, int]:
    with app.state.engine.connect() as connection:
        return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in TABLES}


def make_rows(api, demos) -> str:
    """One confirmed verification with its token, one pending one, a lock with its failures.
    Returns the token."""
    token = api.verify(demos["cnss_ma:doctor"])
    api.start(demos["casnos_dz:trader"], conversation="conversation-2")  # left pending
    locked = demos["cnss_ma:artisan"]
    verification_id = api.start(locked, conversation="conversation-3").json()["verification_id"]
    for _ in range(2):  # two failures: counted, not yet a lock
        api.confirm(verification_id, api.wrong(api.code_sent_to(locked)))
    api.start(locked, "1900-01-01", conversation="conversation-3")  # the third: a lock
    return token


def test_only_what_has_ended_is_deleted(api, app, demos, clock, settings):
    token = make_rows(api, demos)
    before = row_counts(app)
    assert before["verifications"] == 3 and before["verification_tokens"] == 1 and before["locks"] == 2

    clock.advance(settings.OTP_TTL_SECONDS + 1)  # codes expired; the token and the lock still run
    with app.state.sessionmaker() as session:
        counts = purge_expired(session, settings, clock())
    assert counts["verifications"] == 3 and counts["verification_tokens"] == 0 and counts["locks"] == 0
    assert api.balance(token).status_code == 200  # a live token still reads the balance

    clock.advance(settings.LOCK_SECONDS + settings.FAILURE_WINDOW_SECONDS)
    with app.state.sessionmaker() as session:
        purge_expired(session, settings, clock())
    assert row_counts(app) == dict.fromkeys(TABLES, 0)


def test_a_purged_verification_answers_like_an_expired_one_would(api, app, demos, clock, settings):
    demo = demos["cnss_ma:doctor"]
    verification_id = api.start(demo).json()["verification_id"]
    code = api.code_sent_to(demo)
    clock.advance(settings.OTP_TTL_SECONDS + 1)
    with app.state.sessionmaker() as session:
        purge_expired(session, settings, clock())
    # the bot's balance client reads 404 and 410 the same way: "your code expired, start again"
    assert api.confirm(verification_id, code).status_code == 404


def test_the_api_purges_when_it_starts(api, app, client, demos, clock, settings):
    make_rows(api, demos)
    clock.advance(settings.LOCK_SECONDS + settings.FAILURE_WINDOW_SECONDS + settings.TOKEN_TTL_SECONDS)
    with TestClient(app):  # a restart: the lifespan's first purge runs in the background
        deadline = time.monotonic() + 10
        while any(row_counts(app).values()) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert row_counts(app) == dict.fromkeys(TABLES, 0)


def test_manage_purge_command(api, app, demos, settings, clock, monkeypatch, capsys):
    make_rows(api, demos)
    clock.advance(settings.OTP_TTL_SECONDS + 1)
    monkeypatch.setenv("SANAD_BACKEND_DATABASE_URL", settings.DATABASE_URL)
    monkeypatch.setattr(deps, "utc_now", clock)  # the command reads the time where the API does
    assert manage.main(["purge"]) == 0
    assert "verifications: 3" in capsys.readouterr().out
    assert row_counts(app)["verifications"] == 0
