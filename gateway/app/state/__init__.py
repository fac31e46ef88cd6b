"""What the gateway keeps between requests, in this process or in Redis.

`build_state(settings)`: without SANAD_GATEWAY_REDIS_URL, `MemoryState` (one process: its
dictionaries, nothing to install); with it, `RedisState` (gateway/app/state/redis_state.py:
several gateway processes serve the same citizens, any of them may receive a citizen's next
message or reconnection). Both give, behind the same interfaces:

- `limiter(name, limit, window)`: a rate limiter (gateway/app/limits.py `Limiter`);
- `session_registry()`: the web sessions (gateway/app/web/sessions.py), whose exactly-once state
  (outcome of each client id, rate exemptions, reply language, handoff events until acknowledged)
  is in memory or in Redis, and whose events reach the session's connections on every process;
- `telegram_prefs`: a Telegram user's language choice (gateway/app/telegram/prefs.py);
- `bus` and `first_delivery`: the live handoff's publish/subscribe (gateway/app/agent/handoff/
  bus.py) and the check that one process only carries a handoff event to the citizen.

`start()` before serving (RedisState: Redis must answer, else a clear error), `stop()` after,
`ready()` for the readiness probe. `unavailable_errors`: what a request meets while the shared
state is away (Redis down): the gateway answers 503 / closes 1013 with the citizen's "kept,
will be sent" notice instead of a 500, and serves again by itself when Redis is back.
Live connections stay in their process (a WebSocket is local), as do the per-session locks."""
from __future__ import annotations

from gateway.app.agent.handoff.bus import InProcessBus
from gateway.app.config import Settings
from gateway.app.limits import Limiter, RateLimiter
from gateway.app.telegram.prefs import LocalPrefs
from gateway.app.web.sessions import SessionRegistry


class MemoryState:
    """Everything in this process: a second gateway process would know nothing of it."""

    shared = False
    unavailable_errors: tuple[type[BaseException], ...] = ()  # nothing here can be away

    def __init__(self) -> None:
        self.bus = InProcessBus()
        self.telegram_prefs = LocalPrefs()

    def limiter(self, name: str, limit: int, window: float) -> Limiter:
        return RateLimiter(limit, window)

    def session_registry(self) -> SessionRegistry:
        return SessionRegistry()

    async def first_delivery(self, delivery_id: str) -> bool:
        return True  # one process: every event it hears is its own to deliver

    async def start(self) -> None:
        pass

    async def ready(self) -> bool:
        return True

    async def stop(self) -> None:
        pass


def build_state(settings: Settings) -> MemoryState:
    if not settings.REDIS_URL:
        return MemoryState()
    from gateway.app.state.redis_state import RedisState  # redis-py only when Redis is used

    return RedisState(settings.REDIS_URL, prefix=settings.REDIS_PREFIX)
