"""Settings of the affiliate API, read from the environment (prefix `SANAD_BACKEND_`)."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[3]
# Generated files (SQLite database, SMS outbox) live under var/, like the rest of Sanad's.
VAR = Path(os.environ.get("SANAD_VAR_DIR", REPO / "var"))

# Development-only values: anyone reading this repository knows them. Set
# SANAD_BACKEND_SERVICE_TOKENS and SANAD_BACKEND_SECRET_KEY anywhere else.
DEV_SERVICE_TOKEN = "sanad-dev-service-token"
DEV_SECRET_KEY = "sanad-dev-secret-key-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANAD_BACKEND_", extra="ignore", frozen=True)

    DATABASE_URL: str = Field(
        default=f"sqlite:///{VAR / 'backend.sqlite3'}",
        description="SQLAlchemy URL: the SQLite file by default, postgresql+psycopg://... in production.",
    )
    SERVICE_TOKENS: str = Field(
        default=DEV_SERVICE_TOKEN,
        description="Comma-separated service credentials accepted as `Authorization: Bearer ...`. "
        "The default is a development value only.",
    )
    AGENT_TOKENS: str = Field(
        default="",
        description="Comma-separated credentials of the agent console (`/v1/agent`, balance look-ups on "
        "behalf of a caller), distinct from the bot's. Empty: every `/v1/agent` call is refused.",
    )
    SECRET_KEY: str = Field(
        default=DEV_SECRET_KEY,
        description="Key of the HMACs that protect one-time codes, verification tokens and lock keys. "
        "The default is a development value only.",
    )
    OTP_TTL_SECONDS: int = Field(default=300, gt=0)
    TOKEN_TTL_SECONDS: int = Field(default=600, gt=0)
    MAX_FAILED_ATTEMPTS: int = Field(default=3, gt=0)
    LOCK_SECONDS: int = Field(default=900, gt=0)
    FAILURE_WINDOW_SECONDS: int = Field(
        default=3600, gt=0,
        description="Failed attempts older than this no longer count towards a lock.",
    )
    PURGE_INTERVAL_SECONDS: int = Field(
        default=3600, gt=0,
        description="How often expired verifications, tokens, locks and old failed attempts are deleted.",
    )
    SMS_OUTBOX_DIR: Path = Field(default=VAR / "sms-outbox")
    SMS_MAX_PER_AFFILIATE: int = Field(
        default=3, gt=0, description="One-time codes sent to one affiliate's phone per SMS window.")
    SMS_MAX_PER_CONVERSATION: int = Field(
        default=3, gt=0, description="One-time codes one conversation may have sent per SMS window.")
    SMS_WINDOW_SECONDS: int = Field(
        default=900, gt=0,
        description="Window of the two SMS limits (backend/app/sms_limits.py).")

    @cached_property
    def service_tokens(self) -> tuple[str, ...]:
        return tuple(token.strip() for token in self.SERVICE_TOKENS.split(",") if token.strip())

    @cached_property
    def agent_tokens(self) -> tuple[str, ...]:
        return tuple(token.strip() for token in self.AGENT_TOKENS.split(",") if token.strip())

    @property
    def uses_dev_credentials(self) -> bool:
        return DEV_SERVICE_TOKEN in self.service_tokens or self.SECRET_KEY == DEV_SECRET_KEY
