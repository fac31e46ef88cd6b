"""Alembic environment of the agent console: the URL comes from the caller
(gateway.app.agent.db.migrate) or the settings."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db import models  # noqa: F401  (registers the tables on Base.metadata)
from gateway.app.agent.db.migrate import VERSION_TABLE
from gateway.app.agent.db.models import Base
from gateway.app.agent.db.session import make_engine

config = context.config
database_url = config.attributes.get("database_url")
if database_url is None:
    # Run from the alembic command line: take the console's settings and its logging section.
    database_url = AgentSettings().DATABASE_URL
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=database_url, target_metadata=target_metadata, literal_binds=True,
                      version_table=VERSION_TABLE, render_as_batch=database_url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


MIGRATION_LOCK = 0x5A4E4144  # any constant: the key of the PostgreSQL advisory lock below


def serialise_with_other_processes(connection) -> None:
    """Several gateway processes starting at once on one PostgreSQL database: the first migrates,
    the others wait for its transaction, then find the tables at head (no "already exists").
    SQLite: a lock file (gateway/app/agent/db/migrate.py)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def run_migrations_online() -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata,
                              version_table=VERSION_TABLE,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                serialise_with_other_processes(connection)
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
