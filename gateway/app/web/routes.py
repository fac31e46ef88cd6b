"""HTTP routes of the web chat: session issuing, the widget's assets and its configuration (the
fund's name, the interface language of each reply language: from registry.yml), the demo page."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.registry import registry
from gateway.app.messages import say, ui_lang
from gateway.app.security import client_ip, origin_allowed

STATIC = Path(__file__).parent / "static"
router = APIRouter()


class SessionRequest(BaseModel):
    fund: Optional[str] = Field(default=None, max_length=32)
    token: Optional[str] = Field(default=None, max_length=512)
    lang: Optional[str] = Field(default=None, max_length=16)


@router.post("/api/session", tags=["web"], summary="Issue a web chat session, or renew a valid one")
async def session(body: SessionRequest, request: Request) -> JSONResponse:
    """With a valid token: the same session, with a fresh token (sliding expiry). With a
    tampered or expired token: 401, the widget then asks for a new session. Without a token: a
    new session for the fund (the deployment's default fund when none or an unknown one is given)."""
    state = request.app.state
    if not origin_allowed(request, state.settings.allowed_origins):
        return JSONResponse({"code": "forbidden_origin"}, status_code=403)
    if body.token is not None:
        claims = state.tokens.verify(body.token)
        if claims is None:
            return JSONResponse({"code": "bad_session", "text": say("bad_session", body.lang)},
                                status_code=401)
        claims, token = state.tokens.issue(claims.fund, claims.session_id)
        return JSONResponse({"session_id": claims.session_id, "fund": claims.fund, "token": token,
                             "new": False})
    verdict = await state.session_ip_limiter.hit(client_ip(request))
    if not verdict.allowed:
        text = say("too_fast", body.lang, seconds=verdict.retry_seconds)
        return JSONResponse({"code": "too_fast", "text": text, "retry_after": verdict.retry_seconds},
                            status_code=429, headers={"Retry-After": str(verdict.retry_seconds)})
    fund = body.fund if registry().is_fund(body.fund) else state.settings.FUND
    claims, token = state.tokens.issue(fund)
    state.metrics.sessions.inc()
    return JSONResponse({"session_id": claims.session_id, "fund": claims.fund, "token": token, "new": True})


def _asset(name: str, media_type: str) -> FileResponse:
    # Fund sites load these from another origin: say so explicitly (Cross-Origin-Resource-Policy).
    return FileResponse(STATIC / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=300",
                                 "Cross-Origin-Resource-Policy": "cross-origin"})


@router.get("/widget.js", include_in_schema=False)
@router.get("/static/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    return _asset("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css", include_in_schema=False)
@router.get("/static/widget.css", include_in_schema=False)
async def widget_css() -> FileResponse:
    return _asset("widget.css", "text/css; charset=utf-8")


@router.get("/static/demo.css", include_in_schema=False)
async def demo_css() -> FileResponse:
    return _asset("demo.css", "text/css; charset=utf-8")


@router.get("/api/widget-config", tags=["web"], summary="What the widget shows of a fund")
async def widget_config(request: Request, fund: Optional[str] = None) -> JSONResponse:
    """The fund (the one named when the registry knows it, else the deployment's), its short name
    for the widget's title and sentences, and the widget's interface language for each reply
    language (Darija -> Arabic...). Public, the same for everyone: cached like the assets."""
    funds = registry()
    fund = fund if funds.is_fund(fund) else request.app.state.settings.FUND
    body = {"fund": fund, "name": funds.fund(fund).short_name,
            "ui_langs": {lang: ui_lang(lang) for lang in funds.language_ids}}
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


def _demo_page_fields(fund_id: str) -> dict[str, str]:
    """The mock fund page's texts, in French like the page (registry.yml)."""
    fund = registry().fund(fund_id)
    country = fund.country_names["fr"]
    return {"fund": fund_id, "name": fund.short_name, "long": f"{fund.names['fr']} ({country})",
            "tagline": fund.tagline.get("fr", ""), "country": country}


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(request: Request, fund: Optional[str] = None) -> HTMLResponse:
    """A mock fund page with the widget, as a fund would embed it."""
    fund = fund if registry().is_fund(fund) else request.app.state.settings.FUND
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    for key, value in _demo_page_fields(fund).items():
        page = page.replace("{{" + key + "}}", html.escape(value))
    return HTMLResponse(page)
