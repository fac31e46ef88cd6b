"""Signing in and out of the console, and who is signed in."""
from __future__ import annotations

import logging
from typing import Optional

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from bot.registry import registry
from gateway.app.agent import security
from gateway.app.agent.deps import ConsoleDep, DbDep, SignedInDep, check_origin, refuse
from gateway.app.agent.db.models import Account, AgentSession
from gateway.app.agent.funds import fund_names
from gateway.app.agent.routes.balance import IDENTITY_CHECKS
from gateway.app.agent.state import AgentConsole
from gateway.app.security import client_ip

logger = logging.getLogger("sanad.gateway.agent.auth")
router = APIRouter(prefix="/auth", tags=["agent"])


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: Optional[str] = Field(default=None, max_length=16, description="TOTP code (supervisors).")


def whoami(who: security.SignedIn) -> dict:
    return {"name": who.account.name, "role": who.account.role, "fund": who.fund,
            "fund_name": fund_names(who.fund), "csrf_token": who.session.csrf_token,
            "identity_checks": list(IDENTITY_CHECKS), "rtl_languages": rtl_languages()}


def rtl_languages() -> list[str]:
    """The languages written right to left (Arabic script in registry.yml): answers in them are shown so."""
    return [lang.id for lang in registry().languages.values() if lang.script == "arab"]


def cookie_is_secure(console: AgentConsole, request: Request) -> bool:
    if console.settings.COOKIE_SECURE == "auto":
        return request.url.scheme == "https"
    return console.settings.COOKIE_SECURE == "always"


def set_session_cookie(response: Response, console: AgentConsole, request: Request, session_id: str) -> None:
    response.set_cookie(security.COOKIE_NAME, session_id, max_age=console.settings.SESSION_MAX_SECONDS,
                        path="/agent", httponly=True, samesite="strict", secure=cookie_is_secure(console, request))


@router.post("/login", summary="Sign in (password, then the TOTP code for supervisors)")
def login(body: LoginRequest, request: Request, response: Response, console: ConsoleDep, db: DbDep) -> dict:
    check_origin(request)
    now, settings = console.clock(), console.settings
    keys = security.failure_keys(body.name, client_ip(request))
    _refuse_if_throttled(db, console, keys, allowed=None)
    # Counted as failed before the password is checked, and forgotten if it is right: parallel
    # guesses each see the others, so no burst slips past the limit while argon2 is working.
    attempt = security.record_failure(db, settings, keys, now)
    db.commit()
    _refuse_if_throttled(db, console, keys, allowed=settings.LOGIN_MAX_FAILURES, attempt=attempt)
    account = db.query(Account).filter(Account.name == body.name.strip().lower()).one_or_none()
    if not security.password_matches(account, body.password) or account.disabled_at is not None:
        return _fail("invalid_credentials")
    if account.role == "supervisor":
        if not body.code:  # the password was right: ask for the second factor (not a failure)
            security.forget(db, attempt)
            db.commit()
            raise refuse(401, "totp_required")
        if not security.accept_totp(account, body.code, now):
            return _fail("invalid_code")
    if security.password_hasher.check_needs_rehash(account.password_hash):
        account.password_hash = security.hash_password(body.password)
    security.forget(db, attempt)
    security.clear_account_failures(db, keys[0])
    _end_current_session(db, request)
    session_id, row = security.open_session(db, account, now)
    db.commit()
    set_session_cookie(response, console, request, session_id)
    logger.info("console sign-in: %s (%s)", account.name, account.role)
    return whoami(security.SignedIn(row, account))


def _refuse_if_throttled(db, console: AgentConsole, keys: tuple[str, str], allowed: Optional[int],
                         attempt: Optional[list] = None) -> None:
    """429, the same whether the account exists or not. An attempt refused here is not counted
    (the lock ends 15 minutes after the failures that caused it, however often one retries)."""
    wait = security.retry_after(db, console.settings, keys, console.clock(), allowed)
    if wait is None:
        return
    if attempt:
        security.forget(db, attempt)
        db.commit()
    raise refuse(429, "too_many_attempts", headers={"Retry-After": str(wait)}, retry_after=wait)


def _fail(code: str):
    logger.info("console sign-in refused (%s)", code)
    raise refuse(401, code)


def _end_current_session(db, request: Request) -> None:
    """Signing in again from a browser ends the session it held: one id never survives a sign-in."""
    old = request.cookies.get(security.COOKIE_NAME)
    if old:
        db.query(AgentSession).filter(AgentSession.id_hash == security.sha256(old)).delete()


@router.post("/logout", status_code=204, summary="Sign out: the session ends on the server")
def logout(who: SignedInDep, db: DbDep, response: Response) -> Response:
    db.delete(db.merge(who.session))
    db.commit()
    response.status_code = 204
    response.delete_cookie(security.COOKIE_NAME, path="/agent", httponly=True, samesite="strict")
    return response


@router.get("/me", summary="The signed-in account, its fund and the session's CSRF token")
def me(who: SignedInDep) -> dict:
    return whoami(who)
