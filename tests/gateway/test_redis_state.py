"""The gateway's state in Redis (SANAD_GATEWAY_REDIS_URL, gateway/app/state): several gateway
processes serving the same citizens, here two apps in one test sharing one real Redis.

Redis is the server of SANAD_TEST_REDIS_URL (redis://127.0.0.1:6379/0 by default); when it cannot
be reached these tests skip, unless SANAD_REQUIRE_REDIS=1 (CI), which makes them fail. Each test
has its own key prefix, whose keys are deleted afterwards."""
from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any, AsyncIterator

import httpx
import pytest
import websockets

from gateway.app.agent.handoff.desk import CITIZEN_TOPIC
from gateway.app.main import create_app
from gateway.app.messages import MESSAGES
from gateway.app.state import MemoryState, build_state
from gateway.app.state.redis_bus import RedisBus
from gateway.app.state.redis_limits import RedisRateLimiter
from gateway.app.state.redis_sessions import RedisSessions
from gateway.app.state.redis_state import RedisUnavailable
from tests.gateway.conftest import make_settings
from tests.gateway.stubs import MonotonicClock as Clock, ScriptedRasa, answer
from tests.gateway.telegram_harness import telegram_gateway
from tests.gateway.test_telegram_channel import KARIM
from tests.gateway.test_web_socket import Chat, new_session

REDIS_URL = os.environ.get("SANAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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


# --- web sessions: exactly once across processes ------------------------------------------------

async def test_two_processes_claiming_one_client_id_let_one_send_it(redis, prefix):
    a, b = (RedisSessions(redis, prefix).state_for("S" * 22) for _ in range(2))
    claims = await asyncio.gather(*(state.claim("client-id-1") for state in (a, b, a, b)))
    assert sum(c.fresh for c in claims) == 1 and all(c.event is None for c in claims)
    await a.remember("client-id-1", {"type": "bot", "client_id": "client-id-1"})
    assert (await b.claim("client-id-1")).event == {"type": "bot", "client_id": "client-id-1"}
    await b.retry_later("client-id-1")  # Rasa never got it: claimed again, exempt from the limits
    again = await a.claim("client-id-1")
    assert again.fresh and again.exempt
    assert [await redis.ttl(key) > 0 for key in await keys_of(redis, prefix)] == [True] * 3


async def test_a_pending_mark_of_a_dead_process_is_claimed_again_after_a_while(redis, prefix):
    state = RedisSessions(redis, prefix, stale_pending_seconds=1).state_for("D" * 22)
    assert (await state.claim("client-id-2")).fresh
    assert not (await state.claim("client-id-2")).fresh
    await asyncio.sleep(2.1)
    assert (await state.claim("client-id-2")).fresh


@pytest.fixture
def two_gateways(serve, redis, prefix):
    """Two gateway processes' worth (two apps, each its own server and loop) on one Redis."""
    def start(rasa: ScriptedRasa, **overrides: Any):
        return [serve(rasa, REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix, **overrides) for _ in range(2)]
    return start


async def test_a_widget_reconnecting_to_the_other_process_gets_the_answer_rasa_gave_once(two_gateways):
    rasa = ScriptedRasa(delay=0.5)
    a, b = two_gateways(rasa)
    token = new_session(a.url)["token"]
    cid = uuid.uuid4().hex
    async with Chat(a.url, token) as on_a:
        await on_a.say("bonjour", client_id=cid)
        await on_a.until("received", cid)
    async with Chat(b.url, token) as on_b:  # while A still waits for Rasa: not sent again
        await on_b.say("bonjour", client_id=cid)
        assert await on_b.until("received", cid) == {"type": "received", "client_id": cid}
        replay = await on_b.until("bot", cid)  # A's answer, through Redis, to B's connection
        assert replay["turn"]["messages"][0]["text"] == "echo: bonjour"
    async with Chat(b.url, token) as again:
        await again.say("bonjour", client_id=cid)
        replay = await again.until("bot", cid)
        assert replay["replay"] is True and replay["turn"]["messages"][0]["text"] == "echo: bonjour"
    assert [text for _, text, _ in rasa.received] == ["bonjour"]


async def test_an_answer_given_on_one_process_reaches_the_tab_on_the_other(two_gateways):
    rasa = ScriptedRasa(script=lambda s, t, m: answer("réponse", lang="ar"))
    a, b = two_gateways(rasa, RATE_SESSION_MESSAGES=2)
    token = new_session(b.url)["token"]
    async with Chat(a.url, token) as tab_a, Chat(b.url, token) as tab_b:
        cid = await tab_a.say("سؤال")
        assert (await tab_b.until("bot", cid))["turn"]["messages"][0]["text"] == "réponse"
        await tab_a.until("bot", cid)
        await tab_b.until("bot", await tab_b.say("deux"))
        refused = await tab_b.until("rejected", await tab_b.say("trois"))  # one session limit for both
        assert refused["code"] == "too_fast" and refused["text"] == MESSAGES["too_fast"]["ar"].format(
            seconds=refused["retry_after"])  # the reply language, set on A, known on B
    assert len(rasa.received) == 2


async def test_a_handoff_event_reaches_the_widget_on_the_other_process_once(two_gateways, redis, prefix):
    a, b = two_gateways(ScriptedRasa())
    session = new_session(a.url)
    event = {"type": "agent", "id": "agent-1", "text": "Bonjour, je suis Amina.", "lang": "fr"}
    async with Chat(b.url, session["token"]) as widget:
        await widget.ws.send(json.dumps({"type": "ping"}))
        await widget.until("pong")  # joined: the events kept for it were read (none yet)
        # the desk on some process publishes it; every process hears it, one delivers it
        await RedisBus(redis, prefix).publish(CITIZEN_TOPIC, {
            "channel": "web", "conversation_id": f"web:{session['session_id']}", "fund": "cnss_ma",
            "event": event, "delivery": uuid.uuid4().hex})
        assert await widget.until("agent") == event
        with pytest.raises(asyncio.TimeoutError):
            await widget.until("agent", timeout=0.5)  # not twice
    async with Chat(a.url, session["token"]) as back:  # not acknowledged: again, on the other process
        assert await back.until("agent") == {**event, "replay": True}
        await back.ws.send(json.dumps({"type": "ack", "id": "agent-1"}))
        await back.ws.send(json.dumps({"type": "ping"}))
        await back.until("pong")
    async with Chat(b.url, session["token"]) as later:
        await later.ws.send(json.dumps({"type": "ping"}))
        assert await later.recv() == {"type": "pong"}  # acknowledged: not sent again


async def test_a_handoff_opened_on_one_process_is_known_to_the_other_at_once(two_gateways):
    """Each process answers "does a person hold this conversation?" from its own index of open
    handoffs (gateway/app/agent/handoff/index.py): the process that opens one tells the others."""
    def script(sender, text, metadata):
        return [{"text": "Un conseiller va vous répondre."},
                {"custom": {"sanad": {"decision": "human_handoff", "lang": "fr"}}}]

    a, b = two_gateways(ScriptedRasa(script=script))
    session = new_session(a.url)
    key = ("web", f"web:{session['session_id']}")
    desk_b = b.app.state.agent.desk  # (its own loop and thread: only read here)
    assert key not in desk_b.open_index.listed
    async with Chat(a.url, session["token"]) as chat:
        await chat.until("bot", await chat.say("je veux parler à un conseiller"))
    assert key in a.app.state.agent.desk.open_index.listed
    for _ in range(100):
        if key in desk_b.open_index.listed:
            break
        await asyncio.sleep(0.02)
    assert key in desk_b.open_index.listed


# --- Telegram -----------------------------------------------------------------------------------

async def test_a_language_chosen_on_one_process_is_used_on_the_other(redis, prefix):
    rasa = ScriptedRasa(script=lambda s, t, m: answer("ok", lang=m.get("lang", "fr")))
    shared = {"REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}
    async with telegram_gateway(rasa, **shared) as (telegram, _):
        await telegram.send_text(KARIM, "/langue")
        await telegram.wait_messages(KARIM["id"], 1)
        await telegram.press(KARIM, telegram.chat(KARIM["id"])[-1], "lang:en")
        await telegram.wait_for(lambda: telegram.sent("editMessageText"))
    async with telegram_gateway(rasa, **shared) as (telegram, _):  # another process
        await telegram.send_text(KARIM, "bonjour")
        await telegram.wait_messages(KARIM["id"], 1)
    assert rasa.received == [("tg:1002", "bonjour", {"fund": "cnss_ma", "channel": "telegram", "lang": "en"})]
    assert not any(str(KARIM["id"]) in key for key in await keys_of(redis, prefix))


# --- start-up -------------------------------------------------------------------------------------

async def test_a_gateway_whose_redis_does_not_answer_does_not_start():
    app = create_app(make_settings(REDIS_URL="redis://:s3cret@127.0.0.1:1/0"), rasa=ScriptedRasa())
    with pytest.raises(RedisUnavailable) as refused:
        async with app.router.lifespan_context(app):
            pass
    message = str(refused.value)
    assert "SANAD_GATEWAY_REDIS_URL" in message and "127.0.0.1:1" in message and "s3cret" not in message


def test_without_a_redis_url_the_state_stays_in_the_process():
    assert isinstance(build_state(make_settings()), MemoryState)


# --- Redis away while serving ------------------------------------------------------------------

async def test_redis_away_for_a_while_gets_the_kept_notice_then_everything_works_again(serve, redis, prefix):
    """Redis cut under two running gateway processes (tests/tcp_cut.py): new sessions get a 503 and
    the widget the "kept, will be sent" notice with close 1013 (not a 500 or 1011); readiness says
    why. Back, both serve again by themselves, answers crossing processes included."""
    from urllib.parse import urlsplit

    from tests.tcp_cut import CuttableProxy

    where = urlsplit(REDIS_URL)
    proxy = CuttableProxy(where.hostname or "127.0.0.1", where.port or 6379)
    try:
        shared = {"REDIS_URL": f"redis://127.0.0.1:{proxy.port}{where.path or '/0'}", "REDIS_PREFIX": prefix}
        rasa = ScriptedRasa()
        a, b = serve(rasa, **shared), serve(rasa, **shared)
        token = new_session(a.url)["token"]
        with proxy.down():
            refused = httpx.post(f"{a.url}/api/session", json={"fund": "cnss_ma"}, headers={"Accept-Language": "ar"})
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"
            assert refused.json() == {"code": "unavailable", "text": MESSAGES["unavailable"]["ar"], "retry_after": 3}
            ready = httpx.get(f"{a.url}/health/ready")
            assert ready.status_code == 503 and ready.json()["status"] == "redis_unreachable"
            async with websockets.connect(a.url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
                # told at once, before any hello: the connection limit itself is kept in Redis
                notice = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert notice["type"] == "error" and notice["code"] == "unavailable"
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd.code == 1013
            assert rasa.received == []
        for _ in range(100):  # back: both readiness probes follow within seconds (their subscriptions live again)
            if all(httpx.get(f"{g.url}/health/ready").status_code == 200 for g in (a, b)):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("a gateway is still not ready 10 s after Redis came back")
        async with Chat(a.url, token) as tab_a, Chat(b.url, token) as tab_b:
            cid = await tab_a.say("bonjour")
            assert (await tab_b.until("bot", cid, timeout=10))["turn"]["messages"][0]["text"] == "echo: bonjour"
        assert [text for _, text, _ in rasa.received] == ["bonjour"]
    finally:
        proxy.close()
