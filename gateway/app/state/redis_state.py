"""`RedisState`: the gateway's state in Redis (gateway/app/state/__init__.py says what it holds).
Every key starts with the prefix (`sanad:gw:` by default) and expires: nothing grows unbounded.
No key holds a phone number, an affiliate number or a message text the citizen typed."""
from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.app.limits import Limiter
from gateway.app.state import PREFIX, describe
from gateway.app.state.redis_limits import RedisRateLimiter

logger = logging.getLogger("sanad.gateway.state")


class RedisUnavailable(RuntimeError):
    pass


class RedisState:
    shared = True

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        self.url, self.prefix = url, prefix
        self.redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=5,
                                    health_check_interval=30)

    def limiter(self, name: str, limit: int, window: float) -> Limiter:
        return RedisRateLimiter(self.redis, f"{self.prefix}rate:{name}:", limit, window)

    async def start(self) -> None:
        """Redis must answer now: a gateway that would fail on every message does not start."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as error:
            raise RedisUnavailable(f"SANAD_GATEWAY_REDIS_URL: Redis does not answer at {describe(self.url)} "
                                   f"({type(error).__name__}: {error}). Start Redis, or unset "
                                   "SANAD_GATEWAY_REDIS_URL to keep the state in this process.") from None
        logger.info("gateway state in Redis at %s", describe(self.url))

    async def stop(self) -> None:
        await self.redis.aclose()
