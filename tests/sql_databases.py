"""What the FastAPI side's database tests share (the affiliate API's, tests/backend, and the agent
console's, tests/gateway/agent): a clock moved by hand, and PostgreSQL schemas made for one test.

PostgreSQL is the server of SANAD_TEST_POSTGRES_URL; when it cannot be reached the tests that need
it skip, unless SANAD_REQUIRE_POSTGRES=1 (CI), which makes them fail. SQLAlchemy 2: the FastAPI
environment only."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

POSTGRES_URL = os.environ.get("SANAD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class FakeClock:
    """The app's clock, moved by hand: expiry and locks are tested without sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def postgres_admin() -> Iterator[Engine]:
    """An engine on the PostgreSQL test server, or a skip (a failure under SANAD_REQUIRE_POSTGRES=1).
    A generator, for a session-scoped fixture to yield from."""
    url = make_url(POSTGRES_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        engine.dispose()
        cause = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        reason = f"PostgreSQL not reachable at {url.render_as_string(hide_password=True)}: {cause}"
        if os.environ.get("SANAD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (SANAD_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@contextmanager
def fresh_schema(admin: Engine, prefix: str) -> Iterator[str]:
    """The URL of a new, empty schema of the test server (its search path), dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
