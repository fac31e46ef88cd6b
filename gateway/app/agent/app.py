"""Mounting the console on the gateway: `install(app, settings)` (called by create_app)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app.agent.config import AgentSettings
from gateway.app.agent.handoff.desk import HandoffDesk
from gateway.app.agent.routes import assist, audit, auth, balance, dashboard, inbox, review
from gateway.app.agent.state import AgentConsole, Clock
from gateway.app.config import Settings
from gateway.app.security import content_security_policy

STATIC = Path(__file__).parent / "static"
PREFIX = "/agent"


def api_router() -> APIRouter:
    router = APIRouter(prefix=f"{PREFIX}/api")
    for module in (auth, assist, balance, audit, review, dashboard, inbox):
        router.include_router(module.router)
    return router


pages = APIRouter(include_in_schema=False)


@pages.get(PREFIX)
def console_redirect() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@pages.get(f"{PREFIX}/")
def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


class ConsoleHeadersMiddleware:
    """The console is never framed (clickjacking) and its API answers are never cached. Inside the
    gateway's SecurityHeadersMiddleware, which then leaves these headers as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        csp = content_security_policy(()).replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        self.page_headers = [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        extra = list(self.page_headers)
        if path.startswith(f"{PREFIX}/api/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def validation_error(request: Request, exc: RequestValidationError):
    """On the console's routes, say what is wrong without echoing the values (an affiliate
    number, a password); elsewhere FastAPI's usual answer."""
    if not request.url.path.startswith(f"{PREFIX}/api/"):
        return await request_validation_exception_handler(request, exc)
    issues = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()]
    return JSONResponse({"detail": {"code": "invalid_request", "issues": issues}}, status_code=422)


def install(app: FastAPI, settings: Settings, agent_settings: Optional[AgentSettings] = None,
            clock: Optional[Clock] = None, backend_transport: Optional[httpx.AsyncBaseTransport] = None) -> AgentConsole:
    console = AgentConsole(agent_settings or AgentSettings(), number_key=settings.SESSION_SECRET, clock=clock,
                           backend_transport=backend_transport)
    app.state.agent = console
    # Live handoff: the relay asks the desk about every turn (gateway/app/agent/handoff/desk.py).
    # Its bus and deliveries: in this process, or shared through Redis (gateway/app/state).
    shared = app.state.shared
    console.desk = app.state.relay.desk = HandoffDesk(console, app.state.relay, bus=shared.bus,
                                                      first_delivery=shared.first_delivery)
    app.include_router(pages)
    app.include_router(api_router())
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="agent-static")
    app.add_exception_handler(RequestValidationError, validation_error)
    return console
