"""Web sessions' exactly-once state in Redis (gateway/app/web/sessions.py `SessionState`), and
the channel that carries a session's events to its connections on every gateway process.

Keys of a session (its id is random, nothing personal; `{...}` keeps them on one cluster slot):
  <prefix>web:{sid}:outcomes   hash client id -> "p<time>" while pending, else the event that answered it
  <prefix>web:{sid}:order      list of the client ids, oldest first (at most MAX_OUTCOMES)
  <prefix>web:{sid}:exempt     set of the ids charged already, coming back after an outage
  <prefix>web:{sid}:lang       the language of the last reply
  <prefix>web:{sid}:outbox     hash handoff event id -> event, until the widget acknowledges it
  <prefix>web:{sid}:outbox-order  list of those ids, oldest first (at most MAX_HANDOFF_EVENTS)
Each expires `idle_seconds` after its last write (the outbox: `handoff_idle_seconds`), as the
in-memory registry forgets an idle session. Message texts are never stored: only the final
events, as in memory."""
from __future__ import annotations

import json
import logging
from typing import Any, Optional

from redis.asyncio import Redis

from gateway.app.web.sessions import Claim, MemorySessionState

logger = logging.getLogger("sanad.gateway.state")

# KEYS: outcomes, order, exempt. ARGV: client id, ttl (s), max ids, stale after (s).
# A first sight becomes pending ("p<time>"); the oldest ids leave past the cap (with their
# exemption). A pending mark older than `stale after` belongs to a process that died while
# answering: the id is claimed again rather than never answered.
CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1])
local known = redis.call('HGET', KEYS[1], ARGV[1])
local exempt = redis.call('SISMEMBER', KEYS[3], ARGV[1])
if known then
  local pending_since = string.match(known, '^p(%d+)$')
  if not pending_since then return {0, known, exempt} end
  if now - tonumber(pending_since) < tonumber(ARGV[4]) then return {0, '', exempt} end
end
redis.call('HSET', KEYS[1], ARGV[1], 'p' .. now)
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
while redis.call('LLEN', KEYS[2]) > tonumber(ARGV[3]) do
  local old = redis.call('LPOP', KEYS[2])
  redis.call('HDEL', KEYS[1], old)
  redis.call('SREM', KEYS[3], old)
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return {1, '', exempt}
"""

# KEYS: outbox, outbox-order. ARGV: event id, event JSON, ttl (s), max events.
KEEP_EVENT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
while redis.call('LLEN', KEYS[2]) > tonumber(ARGV[4]) do
  redis.call('HDEL', KEYS[1], redis.call('LPOP', KEYS[2]))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
"""


class RedisSessions:
    """Makes each session's `RedisSessionState`, with the scripts registered once."""

    def __init__(self, redis: Redis, prefix: str, idle_seconds: float = 3600.0,
                 handoff_idle_seconds: float = 24 * 3600.0, stale_pending_seconds: float = 600.0) -> None:
        self.redis, self.prefix = redis, prefix
        self.ttl, self.handoff_ttl = int(idle_seconds), int(handoff_idle_seconds)
        self.stale_pending = int(stale_pending_seconds)
        self.claim_script = redis.register_script(CLAIM)
        self.keep_event_script = redis.register_script(KEEP_EVENT)

    def state_for(self, session_id: str) -> "RedisSessionState":
        return RedisSessionState(self, session_id)


class RedisSessionState:
    MAX_OUTCOMES = MemorySessionState.MAX_OUTCOMES
    MAX_HANDOFF_EVENTS = MemorySessionState.MAX_HANDOFF_EVENTS

    def __init__(self, sessions: RedisSessions, session_id: str) -> None:
        self.sessions, self.redis = sessions, sessions.redis
        base = f"{sessions.prefix}web:{{{session_id}}}:"
        self.outcomes, self.order, self.exempt = base + "outcomes", base + "order", base + "exempt"
        self.lang, self.outbox, self.outbox_order = base + "lang", base + "outbox", base + "outbox-order"

    async def claim(self, client_id: str) -> Claim:
        fresh, known, exempt = await self.sessions.claim_script(
            keys=[self.outcomes, self.order, self.exempt],
            args=[client_id, self.sessions.ttl, self.MAX_OUTCOMES, self.sessions.stale_pending])
        return Claim(bool(int(fresh)), json.loads(known) if known else None, bool(int(exempt)))

    async def remember(self, client_id: str, event: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.outcomes, client_id, json.dumps(event, ensure_ascii=False))
            pipe.expire(self.outcomes, self.sessions.ttl)
            await pipe.execute()

    async def retry_later(self, client_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.outcomes, client_id)
            pipe.lrem(self.order, 0, client_id)
            pipe.sadd(self.exempt, client_id)
            pipe.expire(self.exempt, self.sessions.ttl)
            await pipe.execute()

    async def reply_lang(self) -> Optional[str]:
        return await self.redis.get(self.lang)

    async def set_reply_lang(self, lang: str) -> None:
        await self.redis.set(self.lang, lang, ex=self.sessions.ttl)

    async def keep_handoff_event(self, event: dict[str, Any]) -> None:
        await self.sessions.keep_event_script(
            keys=[self.outbox, self.outbox_order],
            args=[event["id"], json.dumps(event, ensure_ascii=False), self.sessions.handoff_ttl,
                  self.MAX_HANDOFF_EVENTS])

    async def handoff_events(self) -> list[dict[str, Any]]:
        ids = await self.redis.lrange(self.outbox_order, 0, -1)
        if not ids:
            return []
        return [json.loads(raw) for raw in await self.redis.hmget(self.outbox, ids) if raw]

    async def acknowledge(self, event_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.outbox, event_id)
            pipe.lrem(self.outbox_order, 0, event_id)
            await pipe.execute()

    def holds_handoff_events(self) -> bool:
        return False  # they are in Redis: this process may forget the session object
