"""The affiliate API: `create_app(settings)` builds it, `app` is the one served by default.

    uvicorn backend.app.main:app        (after `python -m backend.app.manage migrate`)
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import Response

from backend.app.api.deps import Clock, utc_now
from backend.app.api.errors import install_error_handlers
from backend.app.api.main import agent_router, api_router
from backend.app.api.routes import health
from backend.app.core.config import Settings
from backend.app.core.security import AGENT_AREA, SERVICE_AREA, ServiceCredentialMiddleware
from backend.app.db.session import make_engine, make_sessionmaker
from backend.app.metrics import Metrics, MetricsMiddleware
from backend.app.retention import purge_periodically
from backend.app.sms import OutboxSmsSender, SmsSender

logger = logging.getLogger("sanad.backend")

API_VERSION = "1.0.0"
DESCRIPTION = """\
The affiliate service of a social-security fund for self-employed workers (CNSS Morocco,
CASNOS Algeria), as Sanad's assistant calls it. It stands in for the fund's own system: a fund's
IT team implements this contract.

Every `/v1` call carries the service credential (`Authorization: Bearer ...`). A citizen is
verified with their affiliate number and birth date, then with a one-time code sent by SMS to the
phone on file (or with their own phone number, shared by their messaging app). The token obtained
reads their balance for a few minutes. Three failures lock the affiliate number and the
conversation for 15 minutes. No answer tells whether an affiliate number exists.

`/v1/agent` is the call centre's: with its own credential (never the bot's), an agent who has
checked a caller's identity on the phone reads that caller's balance, naming themselves, how the
identity was checked and why.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               sms_sender: SmsSender | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or utc_now
    engine = make_engine(settings.DATABASE_URL)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.uses_dev_credentials:
            logger.warning("the development service credential or secret key is in use: set "
                           "SANAD_BACKEND_SERVICE_TOKENS and SANAD_BACKEND_SECRET_KEY outside development")
        purge = asyncio.create_task(purge_periodically(_app.state.sessionmaker, settings, clock))
        yield
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        engine.dispose()

    app = FastAPI(
        title="Sanad affiliate API", version=API_VERSION, description=DESCRIPTION, lifespan=lifespan,
        # FastAPI's OpenTelemetry logs carry exception messages: keep personal data out of them.
        telemetry={"logs": False},
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.sms_sender = sms_sender or OutboxSmsSender(settings.SMS_OUTBOX_DIR, clock=clock)
    app.add_middleware(ServiceCredentialMiddleware, areas={SERVICE_AREA: settings.service_tokens,
                                                           AGENT_AREA: settings.agent_tokens})
    install_error_handlers(app)
    # Added last, so outermost: a request the credential check refuses is timed and counted too.
    app.state.metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics,
                       templates=lambda: [*app.openapi()["paths"], "/metrics"])
    app.include_router(health.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(api_router)
    app.include_router(agent_router)
    return app


app = create_app()
