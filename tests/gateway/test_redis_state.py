"""The gateway's state in Redis (SANAD_GATEWAY_REDIS_URL, gateway/app/state): several gateway
processes serving the same citizens, here two apps in one test sharing one real Redis.

Redis is the server of SANAD_TEST_REDIS_URL (redis://127.0.0.1:6379/0 by default); when it cannot
be reached these tests skip, unless SANAD_REQUIRE_REDIS=1 (CI), which makes them fail. Each test
has its own key prefix, whose keys are deleted afterwards."""
from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any, AsyncIterator

import pytest

from gateway.app.state.redis_limits import RedisRateLimiter

REDIS_URL = os.environ.get("SANAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """A client of the test Redis, or a skip (a failure under SANAD_REQUIRE_REDIS=1)."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        reason = f"Redis not reachable at {REDIS_URL}: {error}"
        if os.environ.get("SANAD_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (SANAD_REQUIRE_REDIS=1)", pytrace=False)
        pytest.skip(reason)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis) -> AsyncIterator[str]:
    """This test's key prefix; its keys are deleted afterwards (and every key has a TTL anyway)."""
    prefix = f"sanad:test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)


async def keys_of(redis, prefix: str) -> list[str]:
    return sorted([key async for key in redis.scan_iter(match=f"{prefix}*", count=500)])


# --- rate limits ------------------------------------------------------------------------------------

async def test_two_processes_limiters_share_one_sliding_window(redis, prefix):
    clock = Clock()
    a = RedisRateLimiter(redis, f"{prefix}rate:ip:", 3, 60, clock=clock)
    b = RedisRateLimiter(redis, f"{prefix}rate:ip:", 3, 60, clock=clock)  # another process's
    assert [(await limiter.hit("10.0.0.1")).allowed for limiter in (a, b, a)] == [True, True, True]
    refused = await b.hit("10.0.0.1")
    assert not refused.allowed and refused.retry_after == pytest.approx(60) and refused.retry_seconds == 60
    clock.now += 20
    assert (await a.hit("10.0.0.1")).retry_seconds == 40
    assert (await a.hit("10.0.0.2")).allowed  # keys are independent


async def test_redis_limiter_window_slides_and_refusals_do_not_count(redis, prefix):
    clock = Clock()
    a = RedisRateLimiter(redis, f"{prefix}rate:s:", 2, 10, clock=clock)
    b = RedisRateLimiter(redis, f"{prefix}rate:s:", 2, 10, clock=clock)
    await a.hit("s")
    clock.now += 5
    await b.hit("s")
    for limiter in (a, b, a, b, a):  # refused: they do not extend the wait
        assert not (await limiter.hit("s")).allowed
    clock.now += 5.01
    assert (await b.hit("s")).allowed
    assert not (await a.hit("s")).allowed


async def test_redis_limiter_keys_expire_and_hold_no_address(redis, prefix):
    limiter = RedisRateLimiter(redis, f"{prefix}rate:ip:", 5, 30)  # Redis's own clock
    assert (await limiter.hit("192.168.7.42")).allowed
    [key] = await keys_of(redis, prefix)
    assert "192.168" not in key
    assert 0 < await redis.pttl(key) <= 30_000


async def test_the_same_limit_is_enforced_by_concurrent_processes(redis, prefix):
    limiters = [RedisRateLimiter(redis, f"{prefix}rate:ip:", 10, 60) for _ in range(4)]
    verdicts = await asyncio.gather(*(limiters[i % 4].hit("ip") for i in range(40)))
    assert sum(v.allowed for v in verdicts) == 10
