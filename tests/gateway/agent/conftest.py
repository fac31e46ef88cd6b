"""Fixtures of the agent console's tests: the gateway app with its console on a fresh database
(SQLite file, or a fresh PostgreSQL schema for `postgres` tests), the real affiliate API
(migrated, seeded, reached in-process through httpx's ASGI transport), a stand-in Rasa ranking
(tests/gateway/stubs.py), accounts of both funds and a clock moved by hand."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import httpx
import pyotp
import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

from gateway.app.agent import manage, security
from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.migrate import upgrade
from gateway.app.agent.db.models import Account
from gateway.app.agent.db.session import make_engine, make_sessionmaker
from gateway.app.config import FUNDS
from gateway.app.main import create_app
from tests.gateway.conftest import REPO, make_settings  # noqa: F401  (REPO: for the tests)
from tests import sql_databases
from tests.gateway.stubs import ScriptedRasa
from tests.sql_databases import FakeClock

MA, DZ = FUNDS  # the two funds, as the gateway's configuration lists them
BACKEND_AGENT_TOKEN = "console-test-agent-token"
PASSWORD = "correct horse battery"
START = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 22)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="session")
def postgres_admin():
    yield from sql_databases.postgres_admin()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request, tmp_path: Path):
    """The console's database on SQLite and on PostgreSQL (a fresh schema, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'agent.sqlite3'}"
        return
    with sql_databases.fresh_schema(request.getfixturevalue("postgres_admin"), "sanad_agent_test") as url:
        yield url


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'agent.sqlite3'}"


@pytest.fixture
def backend_app(tmp_path: Path):
    """The real affiliate API with the demo affiliates, its agent route open to the console's token."""
    from backend.app.core.config import Settings as BackendSettings
    from backend.app.db.migrate import upgrade as backend_upgrade
    from backend.app.main import create_app as create_backend
    from backend.app.seed import seed

    settings = BackendSettings(DATABASE_URL=f"sqlite:///{tmp_path / 'backend.sqlite3'}",
                               SERVICE_TOKENS="bot-token", AGENT_TOKENS=BACKEND_AGENT_TOKEN,
                               SECRET_KEY="k", SMS_OUTBOX_DIR=tmp_path / "sms")
    backend_upgrade(settings.DATABASE_URL)
    app = create_backend(settings)
    with app.state.sessionmaker() as session:
        seed(session, TODAY)
        session.commit()
    yield app
    app.state.engine.dispose()


@pytest.fixture
def demos():
    from backend.app.seed import demo_affiliates

    return {f"{demo.fund.value}:{demo.category}": demo for demo in demo_affiliates(TODAY)}


@pytest.fixture
def agent_settings(database_url: str) -> AgentSettings:
    return AgentSettings(DATABASE_URL=database_url, BACKEND_URL="http://backend.test",
                         BACKEND_TOKEN=BACKEND_AGENT_TOKEN)


@pytest.fixture
def rasa_stub() -> ScriptedRasa:
    return ScriptedRasa()


@pytest.fixture
def console_app(agent_settings, clock, backend_app, rasa_stub):
    app = create_app(make_settings(), rasa=rasa_stub, agent={
        "agent_settings": agent_settings, "clock": clock,
        "backend_transport": httpx.ASGITransport(app=backend_app)})
    yield app
    app.state.agent.engine.dispose()


@dataclass
class Accounts:
    database_url: str
    totp: dict[str, str]  # supervisor name -> TOTP secret

    def create(self, name: str, fund: str, role: str = "agent") -> None:
        upgrade(self.database_url)
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine)() as db:
                manage.create(db, name, fund, role, from_stdin=False)
                account = db.query(Account).filter_by(name=name).one()
                account.password_hash = security.hash_password(PASSWORD)
                db.commit()
                if account.totp_secret:
                    self.totp[name] = account.totp_secret
        finally:
            engine.dispose()

    def code(self, name: str, now: datetime, steps_ahead: int = 0) -> str:
        return pyotp.TOTP(self.totp[name]).at(now + timedelta(seconds=30 * steps_ahead))


@pytest.fixture
def accounts(database_url: str) -> Accounts:
    """agent_ma and agent_dz (agents of each fund), sup_ma and sup_dz (supervisors, with TOTP)."""
    created = Accounts(database_url, {})
    for name, fund, role in (("agent_ma", MA, "agent"), ("agent_dz", DZ, "agent"),
                             ("sup_ma", MA, "supervisor"), ("sup_dz", DZ, "supervisor")):
        created.create(name, fund, role)
    return created


class Console:
    """A browser-like client of the console: its cookie jar, and the CSRF token it was given."""

    def __init__(self, client: TestClient, accounts: Accounts, clock: FakeClock) -> None:
        self.client, self.accounts, self.clock = client, accounts, clock
        self.csrf: Optional[str] = None

    def login(self, name: str, password: str = PASSWORD, code: Optional[str] = None, **kwargs):
        body = {"name": name, "password": password}
        if name in self.accounts.totp and code is None:
            code = self.accounts.code(name, self.clock())
        if code is not None:
            body["code"] = code
        response = self.client.post("/agent/api/auth/login", json=body, **kwargs)
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    def post(self, path: str, body=None, csrf: bool = True, **kwargs):
        headers = kwargs.pop("headers", {})
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)


@pytest.fixture
def console(console_app, accounts, clock):
    with TestClient(console_app) as client:
        yield Console(client, accounts, clock)


@pytest.fixture
def other_console(console_app, accounts, clock):
    """A second browser on the same console."""
    with TestClient(console_app) as client:
        yield Console(client, accounts, clock)
