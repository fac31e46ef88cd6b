"""Settings of the agent console, read from the environment (prefix `SANAD_GATEWAY_AGENT_`)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.registry import registry

REPO = Path(__file__).resolve().parents[3]
# A deployment's choice, not a fact of the fund: each fund's time zone comes from registry.yml.
DEFAULT_HANDOFF_HOURS = '{"cnss_ma": "mon-fri 08:30-16:30", "casnos_dz": "sat-thu 08:00-16:00"}'
# Generated files live under var/, like the rest of Sanad's (git ignores it).
VAR = Path(os.environ.get("SANAD_VAR_DIR", REPO / "var"))


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANAD_GATEWAY_AGENT_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    DATABASE_URL: str = Field(
        default=f"sqlite:///{VAR / 'agent.sqlite3'}",
        description="SQLAlchemy URL of the console's database (accounts, sessions, audit log): the "
        "SQLite file by default, postgresql+psycopg://... in production.")
    SESSION_IDLE_SECONDS: int = Field(default=30 * 60, gt=0,
                                      description="A session unused this long ends.")
    SESSION_MAX_SECONDS: int = Field(default=10 * 3600, gt=0,
                                     description="A session ends this long after sign-in, used or not.")
    COOKIE_SECURE: Literal["auto", "always", "never"] = Field(
        default="auto", description="The session cookie's Secure flag: `auto` sets it whenever the "
        "request came over https (behind TRUSTED_PROXIES, as the proxy says).")
    LOGIN_MAX_FAILURES: int = Field(default=5, gt=0,
                                    description="Failed sign-ins per account and per address per window.")
    LOGIN_WINDOW_SECONDS: int = Field(default=15 * 60, gt=0)
    BACKEND_URL: str = Field(default="http://127.0.0.1:8100",
                             description="The fund's affiliate API (balance look-ups on behalf of a caller).")
    BACKEND_TOKEN: Optional[str] = Field(
        default=None, description="The console's credential at the affiliate API (its "
        "SANAD_BACKEND_AGENT_TOKENS), distinct from the bot's. Unset: balance look-ups are refused.")
    BACKEND_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    ASSIST_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)

    HANDOFF_HOURS: str = Field(
        default=DEFAULT_HANDOFF_HOURS,
        description="When each fund's agents answer live handoffs, in the fund's own time zone: a JSON "
        "object fund -> 'mon-fri 08:30-16:30' (several ranges separated by ';'). A fund not listed "
        "has no live handoff: its citizens get the assistant's reply with the official channels.")
    @field_validator("HANDOFF_HOURS")
    @classmethod
    def _hours_name_known_funds(cls, value: str) -> str:
        """A fund id the registry does not know would silently get no live handoff: refuse it."""
        try:
            hours = json.loads(value)
        except ValueError:
            raise ValueError("must be a JSON object fund -> hours") from None
        if not isinstance(hours, dict):
            raise ValueError("must be a JSON object fund -> hours")
        unknown = sorted(fund for fund in hours if not registry().is_fund(fund))
        if unknown:
            raise ValueError(f"names funds not in registry.yml: {', '.join(unknown)}")
        return value

    HANDOFF_MINUTES_PER_CONVERSATION: int = Field(
        default=4, gt=0, description="The rough wait told to a citizen: this many minutes per conversation ahead.")
    HANDOFF_FAILURES: int = Field(
        default=2, gt=0, description="Assistant failures in a row (declined, or a clarification not "
        "settled) after which a conversation goes to the inbox.")
    HANDOFF_INDEX_REFRESH_SECONDS: float = Field(
        default=5.0, ge=0, description="Each gateway process knows which conversations have an open handoff "
        "from memory, kept current by the handoff bus, and reads the list from the database again when it is "
        "this old (the longest a lost bus event can hide a handoff opened on another process; 0: every turn).")
    HANDOFF_GONE_AFTER_SECONDS: int = Field(
        default=120, gt=0, description="A waiting web citizen with no open widget this long is shown as gone.")
