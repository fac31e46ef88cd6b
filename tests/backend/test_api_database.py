"""Migrations are the only source of the tables; the demo seed is idempotent."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from backend.app.db.base import Base
from backend.app.db.migrate import current_revision, head_revision, upgrade
from backend.app.db.models import Affiliate, ContributionDue, Payment
from backend.app.db.session import make_engine
from backend.app.main import create_app
from backend.app.seed import seed


@pytest.mark.both_databases
def test_migrations_build_exactly_the_models(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade(database_url):
    upgrade(database_url)
    from alembic import command

    from backend.app.db.migrate import alembic_config

    command.downgrade(alembic_config(database_url), "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)
        assert "affiliates" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_app_never_creates_tables_itself(settings):
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
    assert inspect(app.state.engine).get_table_names() == []
    app.state.engine.dispose()


@pytest.mark.both_databases
def test_seed_is_idempotent(app, today):
    def counts():
        with app.state.sessionmaker() as session:
            return [session.scalar(select(func.count()).select_from(model))
                    for model in (Affiliate, ContributionDue, Payment)]

    before = counts()  # the fixture seeded once already
    with app.state.sessionmaker() as session:
        assert seed(session, today) == 9
        session.commit()
    assert counts() == before
    assert before[0] == 9


def test_seed_has_both_funds_and_every_situation(demos):
    assert {demo.fund.value for demo in demos.values()} == {"cnss_ma", "casnos_dz"}
    assert {"trader", "farmer", "artisan", "taxi_driver", "doctor"} <= {d.category for d in demos.values()}
    assert any(d.rights_open and not d.due for d in demos.values())              # up to date
    assert any(d.due and d.penalties and not d.rights_open for d in demos.values())  # arrears
    assert any(d.plan for d in demos.values())                                    # instalment plan
    assert any(d.rights_reason in ("waiting_period", "first_contribution_pending") for d in demos.values())
    assert all(len(d.number) == 9 for d in demos.values() if d.fund.value == "cnss_ma")
    assert all(len(d.number) == 12 for d in demos.values() if d.fund.value == "casnos_dz")


def test_readme_lists_the_demo_affiliates(demos):
    from backend.app.manage import OPENAPI_PATH

    readme = (OPENAPI_PATH.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[2].strip(): line for line in readme.splitlines()
            if line.startswith("| cnss_ma") or line.startswith("| casnos_dz")}
    assert set(rows) == {demo.number for demo in demos.values()}
    for demo in demos.values():
        row = rows[demo.number]
        assert f"| {demo.fund.value} |" in row and demo.birth_date.isoformat() in row and demo.phone in row
        assert demo.situation in row
