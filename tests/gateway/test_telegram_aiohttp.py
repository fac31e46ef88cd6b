"""The channel's Bot API calls go through aiohttp (gateway/app/telegram/aiohttp_request.py), and
what the Bot API answers wrong, or too late, reaches the gateway as python-telegram-bot's errors."""
from __future__ import annotations

import asyncio
import logging

import pytest
import telegram.error
from starlette.responses import JSONResponse

from bot.tooling.services import free_port
from gateway.app.telegram.aiohttp_request import AiohttpRequest
from tests.gateway.fake_telegram import user
from tests.gateway.stubs import ScriptedRasa
from tests.gateway.telegram_harness import telegram_gateway

AMINA = user(1001, "fr", "Amina")


async def blocked(params):
    """The Bot API's answer when the citizen blocked the bot."""
    return JSONResponse({"ok": False, "error_code": 403,
                         "description": "Forbidden: bot was blocked by the user"}, status_code=403)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_the_bot_calls_the_bot_api_through_aiohttp(mode):
    secret = {"TELEGRAM_WEBHOOK_SECRET": "s3cret-token"} if mode == "webhook" else {}
    async with telegram_gateway(ScriptedRasa(), TELEGRAM_MODE=mode, **secret) as (fake, app):
        bot = app.state.telegram.application.bot
        calls, updates = bot._request[1], bot._request[0]
        assert isinstance(calls, AiohttpRequest) and calls._pool_size == 256
        assert (calls.read_timeout, calls._write, calls._connect, calls._pool) == (5.0, 5.0, 5.0, 1.0)
        if mode == "polling":
            assert isinstance(updates, AiohttpRequest) and updates._pool_size == 1
            await fake.wait_for(lambda: fake.sent("getUpdates"))
        assert fake.sent("getMe")


async def test_a_bot_api_error_and_a_time_out_fail_the_handoff_delivery(caplog):
    """A person's message the Bot API refuses (403: the citizen blocked the bot) or answers too
    late is reported undelivered (TelegramChannel.deliver -> False), a warning without the text."""
    async with telegram_gateway(ScriptedRasa()) as (fake, app):
        channel = app.state.telegram
        request: AiohttpRequest = channel.application.bot._request[1]
        event = {"type": "agent", "text": "Bonjour, ici Salma", "lang": "fr"}
        assert await channel.deliver("tg:1001", "cnss", event) is True


        fake._m_sendMessage = blocked
        with pytest.raises(telegram.error.Forbidden):
            await channel.application.bot.send_message(1001, "x")
        with caplog.at_level(logging.WARNING, logger="sanad.gateway"):
            assert await channel.deliver("tg:1001", "cnss", event) is False
        assert "Forbidden" in caplog.text and "Salma" not in caplog.text

        async def slow(params):
            await asyncio.sleep(1.0)
            return JSONResponse({"ok": True, "result": True})

        fake._m_sendMessage = slow
        request._read = 0.2
        with pytest.raises(telegram.error.TimedOut):
            await channel.application.bot.send_message(1001, "x")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sanad.gateway"):
            assert await channel.deliver("tg:1001", "cnss", event) is False
        assert "TimedOut" in caplog.text
        request._read = 5.0
        del fake._m_sendMessage
        await asyncio.sleep(1.0)  # the slow answers end before the stand-in stops


async def test_a_reply_the_bot_api_refuses_is_an_operational_warning(caplog):
    """The reply to a citizen refused by the Bot API reaches the channel's error handler as
    telegram.error.Forbidden, logged as a warning (not a bug)."""
    async with telegram_gateway(ScriptedRasa()) as (fake, app):

        fake._m_sendMessage = blocked
        with caplog.at_level(logging.WARNING, logger="sanad.gateway"):
            await fake.send_text(AMINA, "Bonjour")
            for _ in range(200):  # (fake.wait_for fails at the first error)
                if fake.errors:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.1)
        assert [type(e) for e in fake.errors] == [telegram.error.Forbidden]
        assert "Telegram call failed: Forbidden" in caplog.text
        fake.errors.clear()


async def test_an_unreachable_bot_api_is_a_network_error_and_an_uninitialised_request_refuses():
    request = AiohttpRequest(connect_timeout=1.0)
    with pytest.raises(RuntimeError):
        await request.do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")
    await request.initialize()
    try:
        with pytest.raises(telegram.error.NetworkError) as raised:
            await request.do_request(f"http://127.0.0.1:{free_port()}/bot1:x/getMe", "POST")
        assert not isinstance(raised.value, telegram.error.TimedOut)
    finally:
        await request.shutdown()


async def test_a_proxy_named_in_the_environment_carries_the_calls_and_is_read_once(monkeypatch):
    """HTTP(S)_PROXY and NO_PROXY are honoured as with PTB's default httpx, read once per host:
    aiohttp's `trust_env` read the environment and ~/.netrc in a thread at every call."""
    from aiohttp import web

    from gateway.app.telegram import aiohttp_request

    seen = []

    async def proxy(request: web.Request) -> web.Response:  # an HTTP proxy gets the absolute URL
        seen.append(str(request.url))
        return web.json_response({"ok": True, "result": {"id": 1}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    lookups = []
    real_lookup = aiohttp_request.get_env_proxy_for_url
    monkeypatch.setattr(aiohttp_request, "get_env_proxy_for_url", lambda url: lookups.append(url) or real_lookup(url))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    request = AiohttpRequest(connect_timeout=2.0)
    await request.initialize()
    try:
        for _ in range(3):
            status, _body = await request.do_request("http://api.telegram.invalid/bot1:x/getMe", "POST")
            assert status == 200
        assert seen == ["http://api.telegram.invalid/bot1:x/getMe"] * 3 and len(lookups) == 1
        with pytest.raises(telegram.error.NetworkError):  # NO_PROXY: straight to a host that does not exist
            await request.do_request("http://direct.invalid/bot1:x/getMe", "POST")
        assert len(seen) == 3
    finally:
        await request.shutdown()
        await runner.cleanup()
