"""What the gateway keeps between requests, in this process or in Redis.

`build_state(settings)`: without SANAD_GATEWAY_REDIS_URL, `MemoryState` (one process: its
dictionaries, nothing to install); with it, `RedisState` (several gateway processes serve the same
citizens: any of them may receive a citizen's next message or reconnection). Both give:

- `limiter(name, limit, window)`: the rate limiters (gateway/app/limits.py `Limiter`);
- more below as they move (web sessions' exactly-once state, Telegram's language choice, the
  handoff bus).

`start()` before serving (RedisState: Redis must answer, else a clear error), `stop()` after."""
from __future__ import annotations

from typing import Optional

from gateway.app.config import Settings
from gateway.app.limits import Limiter, RateLimiter

PREFIX = "sanad:gw:"


class MemoryState:
    """Everything in this process: a second gateway process would know nothing of it."""

    shared = False

    def limiter(self, name: str, limit: int, window: float) -> Limiter:
        return RateLimiter(limit, window)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def build_state(settings: Settings) -> "MemoryState":
    if not settings.REDIS_URL:
        return MemoryState()
    from gateway.app.state.redis_state import RedisState  # redis-py only when Redis is used

    return RedisState(settings.REDIS_URL, prefix=settings.REDIS_PREFIX)


def describe(url: Optional[str]) -> str:
    """A Redis URL for an error message: without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"
