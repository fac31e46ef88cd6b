"""Alembic, called from Python: the only way the console's tables are created."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

GATEWAY = Path(__file__).resolve().parents[3]
ALEMBIC_INI = GATEWAY / "alembic.ini"
# Its own version table: the console may share a PostgreSQL database with the affiliate API.
VERSION_TABLE = "agent_alembic_version"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(GATEWAY / "alembic"))
    # Passed as an attribute, not an ini option: ini interpolation would mangle '%' in URLs.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
