"""Engine and sessions of the console's database (as backend/app/db/session.py builds them)."""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class _HideResultRows(logging.Filter):
    """With its logger at DEBUG, SQLAlchemy logs every row it fetches (TOTP secrets, reasons)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.args = ("[row hidden]",)
        return True


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    # SQL parameters carry password hashes and audit reasons: out of logs and exception messages.
    # A ping before each checkout only matters for a server that can drop connections (PostgreSQL
    # restarted); on SQLite it was one more query on every turn's log and handoff check.
    kwargs: dict = {"hide_parameters": True, "pool_pre_ping": url.get_backend_name() != "sqlite"}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    logger = logging.getLogger(engine.logger.name)
    if not any(isinstance(existing, _HideResultRows) for existing in logger.filters):
        logger.addFilter(_HideResultRows())
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")  # agents read while a look-up is written
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
