"""The gateway with its Telegram channel on, against the Bot API stand-in, in the test's loop."""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from fastapi import FastAPI

from gateway.app.main import create_app
from tests.gateway.conftest import make_settings
from tests.gateway.fake_telegram import FakeTelegram


@contextlib.asynccontextmanager
async def telegram_gateway(rasa: Any, agent: Any = None, **overrides: Any) -> AsyncIterator[tuple[FakeTelegram, FastAPI]]:
    """The gateway app (lifespan running: PTB initialised, polling or webhook) and the stand-in.
    An error in a PTB handler fails the test at once (no time-out). `agent`: the agent console's
    options (create_app's)."""
    async with FakeTelegram() as telegram:
        settings = make_settings(TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_BASE_URL=telegram.base_url,
                                 **overrides)
        app = create_app(settings, rasa=rasa, agent=agent)

        async def record(update: object, context: Any) -> None:
            telegram.errors.append(context.error)

        app.state.telegram.application.add_error_handler(record)
        async with app.router.lifespan_context(app):
            yield telegram, app
        assert not telegram.errors, telegram.errors
