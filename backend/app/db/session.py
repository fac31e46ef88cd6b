"""Engine and sessions, built from the settings; the session dependency of the routes."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class _HideResultRows(logging.Filter):
    """With its logger at DEBUG, SQLAlchemy logs every row it fetches: birth dates, phones.
    The record stays (it tells a row was read); its content goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.args = ("[row hidden]",)
        return True


def _hide_result_rows(engine: Engine) -> None:
    logger = logging.getLogger(engine.logger.name)
    if not any(isinstance(existing, _HideResultRows) for existing in logger.filters):
        logger.addFilter(_HideResultRows())


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    kwargs: dict = {
        # SQL parameters carry affiliate numbers and birth dates: keep them out of logs and of
        # exception messages, whatever the logging configuration.
        "hide_parameters": True,
        "pool_pre_ping": True,
    }
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    _hide_result_rows(engine)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session
