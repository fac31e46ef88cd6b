"""Alembic, called from Python: the only way the console's tables are created."""
from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

GATEWAY = Path(__file__).resolve().parents[3]
ALEMBIC_INI = GATEWAY / "alembic.ini"
# Its own version table: the console may share a PostgreSQL database with the affiliate API.
VERSION_TABLE = "agent_alembic_version"
# Alembic's `context` and `op` are module-wide: two upgrades at once in one process (two apps in
# one test process) would share them. One at a time; other processes: gateway/alembic/env.py.
_ONE_AT_A_TIME = threading.Lock()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(GATEWAY / "alembic"))
    # Passed as an attribute, not an ini option: ini interpolation would mangle '%' in URLs.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    with _ONE_AT_A_TIME, _sqlite_file_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


@contextlib.contextmanager
def _sqlite_file_lock(database_url: str) -> Iterator[None]:
    """Gateway processes on one SQLite file migrate one after the other. Python's sqlite3 runs
    DDL outside a transaction, so nothing in the database itself holds the second process back
    ("table already exists"); a lock file beside the database does. PostgreSQL: env.py."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    database = Path(url.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
