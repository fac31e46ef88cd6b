"""`RedisState`: the gateway's state in Redis (gateway/app/state/__init__.py says what it holds).
Every key starts with the prefix (`sanad:gw:` by default) and expires: nothing grows unbounded.
No key holds a phone number, an affiliate number, an address, a Telegram user id or a text the
citizen typed (limiter keys and Telegram users are hashed; session ids are random)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Optional
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.app.limits import Limiter
from gateway.app.state.redis_bus import RedisBus
from gateway.app.state.redis_limits import RedisRateLimiter, hashed
from gateway.app.state.redis_sessions import RedisSessions
from gateway.app.telegram.prefs import FIELDS
from gateway.app.web.sessions import SessionRegistry

logger = logging.getLogger("sanad.gateway.state")

WEB_TOPIC = "web-sessions"  # a session's events, for its connections on the other processes
DELIVERY_TTL = 3600  # seconds a handoff event's delivery is remembered (one process delivers it)
TELEGRAM_TTL = 90 * 24 * 3600  # a language choice outlives any conversation, not forever


class RedisUnavailable(RuntimeError):
    pass


class RedisTelegramPrefs:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, f"{prefix}tg:"

    async def load(self, user_id: int) -> dict[str, str]:
        values = await self.redis.hmget(self.prefix + hashed(user_id), FIELDS)
        return {name: value for name, value in zip(FIELDS, values) if value}

    async def save(self, user_id: int, **fields: str) -> None:
        key = self.prefix + hashed(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: v for k, v in fields.items() if k in FIELDS and v})
            pipe.expire(key, TELEGRAM_TTL)
            await pipe.execute()


class RedisState:
    shared = True
    unavailable_errors = (RedisError,)  # redis-py raises its own ConnectionError, TimeoutError...

    def __init__(self, url: str, prefix: str = "sanad:gw:") -> None:
        self.url, self.prefix = url, prefix
        self.redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=5,
                                    health_check_interval=30)
        self.process_id = uuid.uuid4().hex  # tells this process's own publications apart
        self.bus = RedisBus(self.redis, prefix)
        self.telegram_prefs = RedisTelegramPrefs(self.redis, prefix)
        self.sessions = RedisSessions(self.redis, prefix)
        self._registries: list[SessionRegistry] = []
        self._listener: Optional[asyncio.Task] = None
        self._listening = False  # the session events' subscription is live (readiness)

    def limiter(self, name: str, limit: int, window: float) -> Limiter:
        return RedisRateLimiter(self.redis, f"{self.prefix}rate:{name}:", limit, window)

    def session_registry(self) -> SessionRegistry:
        registry = SessionRegistry(state_for=self.sessions.state_for, publish=self._publish_to_session)
        self._registries.append(registry)
        return registry

    async def _publish_to_session(self, session_id: str, event: dict[str, Any]) -> None:
        await self.bus.publish(WEB_TOPIC, {"from": self.process_id, "session_id": session_id, "event": event})

    async def first_delivery(self, delivery_id: str) -> bool:
        """True for the one process that takes this handoff event to the citizen."""
        key = f"{self.prefix}delivered:{delivery_id}"
        return bool(await self.redis.set(key, self.process_id, nx=True, ex=DELIVERY_TTL))

    async def start(self) -> None:
        """Redis must answer now: a gateway that would fail on every message does not start."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as error:
            await self.redis.aclose()
            raise RedisUnavailable(f"SANAD_GATEWAY_REDIS_URL: Redis does not answer at {describe(self.url)} "
                                   f"({type(error).__name__}: {error}). Start Redis, or unset "
                                   "SANAD_GATEWAY_REDIS_URL to keep the state in this process.") from None
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready))
        await ready.wait()
        logger.info("gateway state in Redis at %s", describe(self.url))

    async def ready(self) -> bool:
        """Redis answers and this process hears the others' session events again (after a cut,
        redis-py subscribes again on its next read: events published before that are not heard)."""
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), 3.0)) and self._listening
        except (RedisError, OSError, asyncio.TimeoutError):
            return False

    def _subscription_health(self, live: bool) -> None:
        self._listening = live

    async def _listen(self, ready: asyncio.Event) -> None:
        """The other processes' session events, to this process's connections."""
        async with self.bus.subscribe(WEB_TOPIC, on_health=self._subscription_health) as events:
            self._listening = True
            ready.set()
            async for item in events:
                if item.get("from") == self.process_id:
                    continue  # already sent to this process's connections
                for registry in self._registries:
                    await registry.broadcast_here(item["session_id"], item["event"])

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.redis.aclose()


def describe(url: Optional[str]) -> str:
    """A Redis URL for a log line or an error: without its password."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.hostname or '?'}:{parts.port or 6379}{parts.path}"
