"""The handoff's Bus (gateway/app/agent/handoff/bus.py) over Redis pub/sub: every gateway
process's subscribers get every event (a console on any process sees its fund's inbox move).
Pub/sub keeps nothing: a subscriber away misses events, as with InProcessBus's bounded queues
(a console reloads its inbox when it comes back)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Callable, Optional

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

logger = logging.getLogger("sanad.gateway.state")


class RedisBus:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, f"{prefix}bus:"

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self.redis.publish(self.prefix + topic, json.dumps(event, ensure_ascii=False))

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str, on_health: Optional[Callable[[bool], None]] = None
                        ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.prefix + topic)  # subscribed before the caller reads: nothing missed
        try:
            yield messages(pubsub, on_health or (lambda live: None))
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.unsubscribe()
            await pubsub.aclose()


async def messages(pubsub: PubSub, on_health: Callable[[bool], None]) -> AsyncIterator[dict[str, Any]]:
    """The decoded messages of a subscription, through Redis's hiccups (redis-py reconnects and
    subscribes again; what was published meanwhile is lost, as pub/sub goes). `on_health(False)`
    when the subscription is interrupted, `on_health(True)` once a read succeeds again (the
    readiness probe follows it)."""
    while True:
        try:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        except (RedisError, OSError) as error:
            on_health(False)
            logger.warning("Redis subscription interrupted: %s", type(error).__name__)
            await asyncio.sleep(0.5)
            continue
        on_health(True)
        if message is not None:
            yield json.loads(message["data"])
