"""Settings of the gateway, read from the environment (prefix `SANAD_GATEWAY_`)."""
from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.registry import registry

FUNDS = registry().fund_ids
# A development value only: anyone reading this repository knows it.
DEV_SESSION_SECRET = "sanad-gateway-dev-session-secret-not-for-production"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting must not print the others (the secrets) into the log
    model_config = SettingsConfigDict(env_prefix="SANAD_GATEWAY_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    HOST: str = Field(default="127.0.0.1", description="Interface `python -m gateway` listens on.")
    PORT: int = Field(default=8000, description="Port `python -m gateway` listens on.")

    RASA_URL: str = Field(default="http://127.0.0.1:5005", description="Rasa server (REST channel).")
    RASA_URLS: str = Field(
        default="",
        description="Several Rasa servers sharing one tracker store and one lock store "
        "(bot/endpoints.scaled.yml), comma-separated; replaces RASA_URL when set. Each conversation "
        "goes to one of them and to the next when it refuses the connection.")
    RASA_TOKEN: Optional[str] = Field(
        default=None, description="Token of Rasa's HTTP API (readiness check only; never sent to browsers).")
    RASA_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)
    TYPING_AFTER_SECONDS: float = Field(
        default=0.5, ge=0, description="The channel's typing indicator (Telegram's chat action, the widget's "
        "dots) is shown only when the assistant has not answered within this time: Telegram asks bots to send "
        "the action only for a noticeable wait, and a quick answer then costs no call and no frame.")
    FUND: str = Field(
        default_factory=lambda: registry().default_fund,
        description="The fund this deployment serves by default (a widget may name another): a fund "
        "id of registry.yml; its first fund when unset.")

    ALLOWED_ORIGINS: str = Field(
        default="",
        description="Comma-separated origins of the fund sites allowed to embed the widget "
        "(e.g. `https://www.cnss.ma`). The gateway's own origin is always allowed.")
    SESSION_SECRET: str = Field(default=DEV_SESSION_SECRET, description="Key that signs web session tokens.")
    SESSION_MAX_AGE_SECONDS: int = Field(default=30 * 24 * 3600, gt=0)

    MAX_MESSAGE_CHARS: int = Field(default=1000, gt=0)
    RATE_SESSION_MESSAGES: int = Field(default=10, gt=0, description="Messages per session per window.")
    RATE_SESSION_WINDOW_SECONDS: float = Field(default=60.0, gt=0)
    RATE_IP_MESSAGES: int = Field(default=60, gt=0, description="Messages per client IP per window.")
    RATE_IP_WINDOW_SECONDS: float = Field(default=60.0, gt=0)
    RATE_IP_SESSIONS: int = Field(default=30, gt=0, description="New web sessions per client IP per window.")
    RATE_TELEGRAM_MESSAGES: int = Field(default=10, gt=0,
                                        description="Messages per Telegram user per window.")
    RATE_TELEGRAM_WINDOW_SECONDS: float = Field(default=60.0, gt=0)
    RATE_IP_CONNECTIONS: int = Field(
        default=60, gt=0, description="New WebSocket connections per client IP per window "
        "(RATE_IP_WINDOW_SECONDS); the widget reconnects with back-off, far below it.")
    TRUSTED_PROXIES: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of your own reverse proxies, e.g. "
        "`10.0.0.5, 172.18.0.0/16`. A connection from one of them is attributed to the address "
        "they appended to X-Forwarded-For (the right-most entry that is not a trusted proxy); "
        "X-Forwarded-For from any other peer is ignored. Empty: the peer address is the client's.")
    TRUST_PROXY_HEADERS: bool = Field(
        default=False, description="Deprecated, replaced by TRUSTED_PROXIES. It took the left-most "
        "X-Forwarded-For entry, which the client writes: `true` is refused without TRUSTED_PROXIES, "
        "ignored (with a warning) beside it.")

    REDIS_URL: Optional[str] = Field(
        default=None,
        description="Redis holding what the gateway keeps between requests (rate limits, web sessions' "
        "exactly-once state, Telegram language choices, live handoff events), e.g. "
        "`redis://:password@redis:6379/1`: needed when several gateway processes serve the same "
        "citizens. Unset: kept in this process (one gateway process, no Redis needed).")
    REDIS_PREFIX: str = Field(default="sanad:gw:", min_length=1,
                              description="Prefix of the gateway's Redis keys and channels.")

    CONTACT_SECRET: Optional[str] = Field(
        default=None,
        description="Key that signs a Telegram contact shared by its owner, for the balance look-up "
        "(the action server's SANAD_CONTACT_SECRET). Unset: shared contacts are not vouched for, and "
        "the citizen types the SMS code instead.")
    TELEGRAM_BOT_TOKEN: Optional[str] = Field(default=None, description="Telegram is off when unset.")
    TELEGRAM_MODE: Literal["polling", "webhook"] = "polling"
    TELEGRAM_WEBHOOK_SECRET: Optional[str] = Field(
        default=None,
        description="Required in webhook mode: Telegram sends it as X-Telegram-Bot-Api-Secret-Token.")
    TELEGRAM_WEBHOOK_URL: Optional[str] = Field(
        default=None,
        description="Public URL of /telegram/webhook; when set, registered with setWebhook at start.")
    TELEGRAM_API_BASE_URL: str = Field(
        default="https://api.telegram.org",
        description="Bot API server (a local stand-in in tests); `/bot<token>/<method>` is appended.")

    @field_validator("FUND")
    @classmethod
    def _known_fund(cls, value: str) -> str:
        funds = registry()
        if not funds.is_fund(value):
            raise ValueError(f"SANAD_GATEWAY_FUND: {value!r} is not a fund of {funds.path} "
                             f"({', '.join(funds.fund_ids)})")
        return value

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.TELEGRAM_BOT_TOKEN and self.TELEGRAM_MODE == "webhook" and not self.TELEGRAM_WEBHOOK_SECRET:
            raise ValueError("SANAD_GATEWAY_TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
        if self.TELEGRAM_WEBHOOK_SECRET is not None and not self.TELEGRAM_WEBHOOK_SECRET:
            raise ValueError("SANAD_GATEWAY_TELEGRAM_WEBHOOK_SECRET must not be empty")
        if not self.trusted_proxies and self.TRUST_PROXY_HEADERS:  # parses them: a typo stops here
            raise ValueError(
                "SANAD_GATEWAY_TRUST_PROXY_HEADERS is replaced by SANAD_GATEWAY_TRUSTED_PROXIES: it "
                "believed the X-Forwarded-For entry the client writes. List your reverse proxies' "
                "addresses in SANAD_GATEWAY_TRUSTED_PROXIES and remove TRUST_PROXY_HEADERS.")
        return self

    @cached_property
    def trusted_proxies(self) -> tuple[str, ...]:
        """TRUSTED_PROXIES normalised (`10.0.0.1/8` -> `10.0.0.0/8`): uvicorn would silently take
        a malformed entry for a host name and trust nothing, so a typo is an error here."""
        proxies = []
        for entry in (e.strip() for e in self.TRUSTED_PROXIES.split(",")):
            if not entry:
                continue
            try:
                proxies.append(str(ipaddress.ip_network(entry, strict=False)) if "/" in entry
                               else str(ipaddress.ip_address(entry)))
            except ValueError:
                raise ValueError(f"SANAD_GATEWAY_TRUSTED_PROXIES: {entry!r} is neither an IP address "
                                 "nor a network such as 10.0.0.0/8") from None
        return tuple(proxies)

    @cached_property
    def rasa_urls(self) -> tuple[str, ...]:
        urls = tuple(u.strip() for u in self.RASA_URLS.split(",") if u.strip())
        return urls or (self.RASA_URL,)

    @cached_property
    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.ALLOWED_ORIGINS.split(",") if o.strip())

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.TELEGRAM_BOT_TOKEN)

    @property
    def uses_dev_secret(self) -> bool:
        return self.SESSION_SECRET == DEV_SESSION_SECRET
