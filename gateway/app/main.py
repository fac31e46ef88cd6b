"""The channels gateway: `create_app(settings)` builds it.

    python -m gateway     (or: uvicorn gateway.app.main:app --no-proxy-headers: uvicorn's own
                           proxy headers would believe X-Forwarded-For from 127.0.0.1)

Routes: `/` demo page with the widget, `/widget.js` and `/widget.css` (also under /static/),
`POST /api/session`, the `/ws` WebSocket, `POST /telegram/webhook` (webhook mode), `/health`,
`/health/ready` (Rasa reachable), `/metrics`; the call-centre agents' console under `/agent/`
(gateway/app/agent)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.app.agent import app as agent_console
from gateway.app.agent.turnlog import TurnLog
from gateway.app.config import Settings
from gateway.app.messages import say
from gateway.app.metrics import Metrics
from gateway.app.rasa_client import RasaClient
from gateway.app.relay import Relay
from gateway.app.security import SecurityHeadersMiddleware
from gateway.app.state import build_state
from gateway.app.telegram import routes as telegram_routes
from gateway.app.web import routes as web_routes
from gateway.app.web import ws as web_ws
from gateway.app.web.sessions import SessionTokens

logger = logging.getLogger("sanad.gateway")
RETRY_AFTER = 3  # seconds: as ws.py's, for a request refused while the shared state is away


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO: Telegram's URLs contain the bot token."""
    for name in ("httpx", "httpcore", "telegram.ext.Updater", "telegram.request"):
        logging.getLogger(name).setLevel(logging.WARNING)


def create_app(settings: Optional[Settings] = None, *, rasa: Optional[Any] = None,
               agent: Optional[dict[str, Any]] = None) -> FastAPI:
    """`rasa` replaces the Rasa client (tests); by default one is made from the settings. `agent`:
    options of the agent console (gateway/app/agent/app.py `install`: its settings, clock...)."""
    settings = settings or Settings()
    quiet_http_logs()
    metrics = Metrics()
    shared = build_state(settings)  # in this process, or in Redis (SANAD_GATEWAY_REDIS_URL)
    rasa_client = rasa or RasaClient(settings.rasa_urls, settings.RASA_TIMEOUT_SECONDS, settings.RASA_TOKEN)
    relay = Relay(settings, rasa_client, metrics, limiter=shared.limiter)
    relay.observers.append(metrics.record_turn)  # decisions, handoffs (gateway/app/metrics.py)
    telegram = None
    if settings.telegram_enabled:
        from gateway.app.telegram.bot import TelegramChannel

        telegram = TelegramChannel(settings, relay, prefs=shared.telegram_prefs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.TRUST_PROXY_HEADERS:  # only accepted beside TRUSTED_PROXIES (config.py)
            logger.warning("SANAD_GATEWAY_TRUST_PROXY_HEADERS is deprecated and ignored: "
                           "SANAD_GATEWAY_TRUSTED_PROXIES decides whose X-Forwarded-For is read")
        if settings.uses_dev_secret:
            logger.warning("the development session secret is in use: set SANAD_GATEWAY_SESSION_SECRET "
                           "outside development")
        await shared.start()  # Redis not answering: the gateway does not start (a clear error)
        if telegram is not None:
            await telegram.start()
        await app.state.agent.desk.start()
        try:
            yield
        finally:
            await app.state.agent.desk.stop()
            if telegram is not None:
                await telegram.stop()
            for task in list(app.state.tasks):
                task.cancel()
            # The client's connections belong to this event loop, which ends here: closed for a
            # client passed in too (a test's; it opens others on the next loop that uses it).
            await rasa_client.aclose()
            await app.state.agent.aclose()
            await shared.stop()

    app = FastAPI(title="Sanad channels gateway", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.shared = shared
    app.state.metrics = metrics
    app.state.rasa = rasa_client
    app.state.relay = relay
    app.state.telegram = telegram
    app.state.tokens = SessionTokens(settings.SESSION_SECRET, settings.SESSION_MAX_AGE_SECONDS)
    app.state.sessions = shared.session_registry()
    relay.channels["web"] = web_ws.WebDelivery(app.state.sessions)
    if telegram is not None:
        relay.channels["telegram"] = telegram
    app.state.tasks: set[asyncio.Task] = set()
    app.state.session_ip_limiter = shared.limiter("new_session_ip", settings.RATE_IP_SESSIONS,
                                                  settings.RATE_IP_WINDOW_SECONDS)
    app.state.connection_ip_limiter = shared.limiter("connection_ip", settings.RATE_IP_CONNECTIONS,
                                                     settings.RATE_IP_WINDOW_SECONDS)

    app.add_middleware(agent_console.ConsoleHeadersMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=600)
    app.add_middleware(SecurityHeadersMiddleware, allowed_origins=settings.allowed_origins)
    if settings.trusted_proxies:  # added last, so outermost: every layer sees the citizen's address
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))

    for error_type in shared.unavailable_errors:
        app.add_exception_handler(error_type, state_unavailable)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        rasa_client = request.app.state.rasa
        if hasattr(rasa_client, "instances_ready"):
            instances = await rasa_client.instances_ready()
            up = any(instances.values())
        else:  # a stand-in (tests)
            instances, up = None, await rasa_client.ready()
        state_up = await shared.ready()
        status = "ok" if up and state_up else "rasa_unreachable" if not up else "redis_unreachable"
        up = up and state_up
        body = {"status": status, "telegram": settings.TELEGRAM_MODE if telegram else "off"}
        if instances and len(instances) > 1:  # which of several instances answer (no URL: only up/down)
            body["rasa_instances"] = {"up": sum(instances.values()), "of": len(instances)}
        return JSONResponse(body, status_code=200 if up else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(web_routes.router)
    app.include_router(web_ws.router)
    app.include_router(telegram_routes.router)
    agent_console.install(app, settings, **(agent or {}))
    relay.observers.append(TurnLog(app.state.agent).record_turn)  # the console's turn log: dashboard, review
    return app


async def state_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The shared state (Redis) is away: a 503 the widget understands (it keeps the citizen's
    message and tries again), never a 500. One line in the log, without the request."""
    logger.error("the gateway's shared state cannot be reached (%s): 503", type(error).__name__)
    lang = request.headers.get("accept-language")
    return JSONResponse({"code": "unavailable", "text": say("unavailable", lang), "retry_after": RETRY_AFTER},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER)})


def __getattr__(name: str) -> Any:  # `uvicorn gateway.app.main:app`: built on first use only
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
