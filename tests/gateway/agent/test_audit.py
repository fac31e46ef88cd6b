"""The audit log's hash chain and append-only triggers, on SQLite and on PostgreSQL, and
`sanad audit verify` (gateway.app.agent.manage) naming the first altered or removed row."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.app.agent import audit, manage
from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.migrate import upgrade
from gateway.app.agent.db.session import make_engine, make_sessionmaker
from tests.gateway.agent.conftest import MA, REPO

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db_url(any_database_url: str) -> str:
    upgrade(any_database_url)
    return any_database_url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def write_rows(engine, n: int) -> None:
    with make_sessionmaker(engine)() as db:
        for i in range(n):
            audit.append(db, at=T0 + timedelta(minutes=i), agent="agent_ma", fund=MA, masked_number=f"•••••{i:04d}",
                         number_hash=f"{i:064x}", identity_check="id_card_and_birth_date",
                         reason=f"appel {i}", result="shown")


def verify(db_url: str, capsys) -> tuple[int, str]:
    code = manage.main(["audit", "verify"], settings=AgentSettings(DATABASE_URL=db_url))
    return code, capsys.readouterr().out


def without_triggers(engine, statement: str) -> None:
    """What someone with direct database access would do: lift the protection, then edit."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE agent_audit DISABLE TRIGGER agent_audit_no_update_delete"))
            connection.execute(text(statement))
            connection.execute(text("ALTER TABLE agent_audit ENABLE TRIGGER agent_audit_no_update_delete"))
        else:
            connection.execute(text("DROP TRIGGER agent_audit_no_update"))
            connection.execute(text("DROP TRIGGER agent_audit_no_delete"))
            connection.execute(text(statement))


def test_an_intact_log_verifies(db_url, engine, capsys):
    write_rows(engine, 5)
    code, out = verify(db_url, capsys)
    assert code == 0 and "intact: 5 row(s)" in out


@pytest.mark.parametrize("statement", ["UPDATE agent_audit SET reason = 'x' WHERE id = 2",
                                       "DELETE FROM agent_audit WHERE id = 2"])
def test_the_database_refuses_to_update_or_delete_audit_rows(engine, statement):
    write_rows(engine, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM agent_audit WHERE reason = 'appel 1'")).scalar() == 1


def test_truncate_is_refused_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    write_rows(engine, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE agent_audit"))


def test_verify_names_an_altered_row(db_url, engine, capsys):
    write_rows(engine, 5)
    without_triggers(engine, "UPDATE agent_audit SET result = 'not_found' WHERE id = 3")
    code, out = verify(db_url, capsys)
    assert code == 1 and "BROKEN at row 3" in out and "row 3 was altered" in out


def test_verify_names_a_row_altered_with_its_hash_recomputed(db_url, engine, capsys):
    write_rows(engine, 5)
    with make_sessionmaker(engine)() as db:
        from gateway.app.agent.db.models import AuditEntry

        row = db.get(AuditEntry, 2)
        row.reason = "rewritten"
        forged = audit.chained_hash(row.prev_hash, row)
    without_triggers(engine, f"UPDATE agent_audit SET reason = 'rewritten', row_hash = '{forged}' WHERE id = 2")
    code, out = verify(db_url, capsys)
    assert code == 1 and "BROKEN at row 2" in out


def test_verify_names_a_removed_row(db_url, engine, capsys):
    write_rows(engine, 5)
    without_triggers(engine, "DELETE FROM agent_audit WHERE id = 4")
    code, out = verify(db_url, capsys)
    assert code == 1 and "row 4 removed" in out


def test_verify_names_a_removed_first_row(db_url, engine, capsys):
    write_rows(engine, 3)
    without_triggers(engine, "DELETE FROM agent_audit WHERE id = 1")
    code, out = verify(db_url, capsys)
    assert code == 1 and "row 1 removed" in out


def test_simultaneous_appends_keep_one_chain(db_url, engine, capsys):
    def worker(index: int) -> None:
        with make_sessionmaker(engine)() as db:
            for i in range(5):
                audit.append(db, at=T0, agent=f"agent{index}", fund=MA, masked_number="•••••0000",
                             number_hash="0" * 64, identity_check="id_card_and_birth_date", reason="r",
                             result="shown")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code, out = verify(db_url, capsys)
    assert code == 0 and "intact: 20 row(s)" in out


def test_the_command_line_exits_1_on_a_broken_log(tmp_path):
    """The real command, as `sanad audit verify` runs it (a process of the api environment)."""
    url = f"sqlite:///{tmp_path / 'agent.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    write_rows(engine, 3)
    without_triggers(engine, "UPDATE agent_audit SET agent = 'someone_else' WHERE id = 2")
    engine.dispose()
    env = dict(os.environ, SANAD_GATEWAY_AGENT_DATABASE_URL=url, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "gateway.app.agent.manage", "audit", "verify"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "BROKEN at row 2" in done.stdout


SANAD = REPO / ".venvs" / "rasa" / "bin" / "sanad"


@pytest.mark.skipif(not SANAD.exists(), reason="needs the Rasa environment's `sanad` command (scripts/setup-envs)")
def test_sanad_agents_and_audit_verify_run_the_consoles_commands(tmp_path):
    """`sanad` (Rasa environment) hands `agents` and `audit` to the FastAPI environment, stdin included."""
    url = f"sqlite:///{tmp_path / 'agent.sqlite3'}"
    env = dict(os.environ, SANAD_GATEWAY_AGENT_DATABASE_URL=url)

    def sanad(*args, stdin=""):
        return subprocess.run([str(SANAD), *args], cwd=REPO, env=env, input=stdin, capture_output=True,
                              text=True, timeout=120)

    created = sanad("agents", "create", "Nadia", "--fund", MA, "--role", "supervisor", "--password-stdin",
                    stdin="a long enough password\n")
    assert created.returncode == 0, created.stderr
    assert "created supervisor nadia" in created.stdout and "otpauth://totp/" in created.stdout
    assert "password (shown once)" not in created.stdout  # typed, so not shown
    assert sanad("agents", "create", "nadia", "--fund", MA, "--role", "agent").returncode == 2
    assert sanad("audit", "verify").returncode == 0
    engine = make_engine(url)
    write_rows(engine, 2)
    without_triggers(engine, "DELETE FROM agent_audit WHERE id = 1")
    engine.dispose()
    broken = sanad("audit", "verify")
    assert broken.returncode == 1 and "row 1 removed" in broken.stdout
