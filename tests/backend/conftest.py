"""Fixtures of the affiliate API tests.

Each test gets its own database, migrated with Alembic and seeded with the demo affiliates: a
SQLite file by default; PostgreSQL (a fresh schema, dropped afterwards) for tests marked
`postgres` or parametrised over both with `@pytest.mark.both_databases`. PostgreSQL is the server
of SANAD_TEST_POSTGRES_URL; when it cannot be reached those tests skip, unless
SANAD_REQUIRE_POSTGRES=1 (CI), which makes them fail."""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `backend` is a top-level package of the repository
    sys.path.insert(0, str(REPO))

with warnings.catch_warnings():  # Starlette would rather have httpx2, which the environment lacks
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient  # noqa: E402

from backend.app.core.config import Settings  # noqa: E402
from backend.app.db.migrate import upgrade  # noqa: E402
from backend.app.main import create_app  # noqa: E402
from backend.app.seed import Demo, demo_affiliates, seed  # noqa: E402
from backend.app.sms import latest_code  # noqa: E402
from tests import sql_databases  # noqa: E402
from tests.sql_databases import FakeClock  # noqa: E402

SERVICE_TOKEN = "test-service-token"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
AGENT_TOKEN = "test-agent-token"
AGENT_AUTH = {"Authorization": f"Bearer {AGENT_TOKEN}"}
TODAY = date(2026, 11, 22)  # the day the demo balances are computed for
START = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run the test on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                             indirect=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db_kind(request: pytest.FixtureRequest) -> str:
    if hasattr(request, "param"):
        return request.param
    return "postgres" if request.node.get_closest_marker("postgres") else "sqlite"


@pytest.fixture(scope="session")
def postgres_admin():
    yield from sql_databases.postgres_admin()


@pytest.fixture
def database_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'backend.sqlite3'}"
        return
    with sql_databases.fresh_schema(request.getfixturevalue("postgres_admin"), "sanad_test") as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(DATABASE_URL=database_url, SERVICE_TOKENS=f"{SERVICE_TOKEN}, second-test-token",
                    AGENT_TOKENS=AGENT_TOKEN, SECRET_KEY="test-secret-key", SMS_OUTBOX_DIR=tmp_path / "sms-outbox",
                    OTP_TTL_SECONDS=300, TOKEN_TTL_SECONDS=600, MAX_FAILED_ATTEMPTS=3, LOCK_SECONDS=900,
                    FAILURE_WINDOW_SECONDS=3600)


@pytest.fixture
def app(settings: Settings, clock: FakeClock):
    upgrade(settings.DATABASE_URL)
    application = create_app(settings, clock=clock)
    with application.state.sessionmaker() as session:
        seed(session, TODAY)
        session.commit()
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> TestClient:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Api:
    """The calls the bot makes, with the service credential."""

    client: TestClient
    settings: Settings

    def start(self, demo: Demo | str, birth_date: str | None = None, *, fund: str | None = None,
              conversation: str = "conversation-1"):
        number = demo.number if isinstance(demo, Demo) else demo
        body = {"fund": fund or (demo.fund.value if isinstance(demo, Demo) else "cnss_ma"),
                "affiliate_number": number,
                "birth_date": birth_date or demo.birth_date.isoformat(),
                "conversation_id": conversation}
        return self.client.post("/v1/verifications", json=body, headers=AUTH)

    def code_sent_to(self, demo: Demo) -> str | None:
        return latest_code(self.settings.SMS_OUTBOX_DIR, demo.phone)

    def confirm(self, verification_id: str, code: str):
        return self.client.post(f"/v1/verifications/{verification_id}/confirm", json={"code": code},
                                headers=AUTH)

    def confirm_phone(self, verification_id: str, phone: str):
        return self.client.post(f"/v1/verifications/{verification_id}/confirm-phone", json={"phone": phone},
                                headers=AUTH)

    def balance(self, token: str | None):
        headers = dict(AUTH, **({"X-Verification-Token": token} if token is not None else {}))
        return self.client.get("/v1/balance", headers=headers)

    def verify(self, demo: Demo, conversation: str = "conversation-1") -> str:
        """The whole verification; returns the token."""
        started = self.start(demo, conversation=conversation)
        assert started.status_code == 201, started.text
        confirmed = self.confirm(started.json()["verification_id"], self.code_sent_to(demo))
        assert confirmed.status_code == 200, confirmed.text
        return confirmed.json()["token"]


    @staticmethod
    def wrong(code: str) -> str:
        return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def api(client: TestClient, settings: Settings) -> Api:
    return Api(client, settings)


@pytest.fixture(scope="session")
def demos() -> dict[str, Demo]:
    """The demo affiliates by "fund:category", e.g. demos["cnss_ma:trader"]."""
    return {f"{demo.fund.value}:{demo.category}": demo for demo in demo_affiliates(TODAY)}


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    return dict(AUTH)


@pytest.fixture(scope="session")
def agent_auth() -> dict[str, str]:
    return dict(AGENT_AUTH)
