"""The rate limiter in Redis: `RateLimiter`'s sliding window (gateway/app/limits.py), shared by
every gateway process. One sorted set per key, the events' times as scores, checked and added
by one Lua script (atomic: two processes never both take the last place)."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Hashable
from typing import Callable, Optional

from redis.asyncio import Redis

from gateway.app.limits import Verdict

# KEYS[1]: the key's events; ARGV: now ("" for Redis's own clock), window (s), limit, a new member.
# Like RateLimiter.hit: events older than the window leave it, a refusal is not counted.
SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local window, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {1, '0'}
"""


def hashed(key: Hashable) -> str:
    """A limiter key as Redis sees it: an address or a Telegram user id never appears in a key."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


class RedisRateLimiter:
    """At most `limit` events per `window` seconds per key, counted in Redis. The time is Redis's
    own (one clock for every process) unless `clock` is given (tests)."""

    def __init__(self, redis: Redis, prefix: str, limit: int, window: float,
                 clock: Optional[Callable[[], float]] = None) -> None:
        self.redis, self.prefix, self.limit, self.window, self.clock = redis, prefix, limit, window, clock
        self._script = redis.register_script(SLIDING_WINDOW)

    async def hit(self, key: Hashable) -> Verdict:
        now = "" if self.clock is None else repr(self.clock())
        allowed, wait = await self._script(keys=[self.prefix + hashed(key)],
                                           args=[now, repr(float(self.window)), self.limit, uuid.uuid4().hex])
        if int(allowed):
            return Verdict(True)
        return Verdict(False, max(0.0, float(wait)))
