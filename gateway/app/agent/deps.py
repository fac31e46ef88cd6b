"""What the console's routes get: its state, a database session, the signed-in account (401
without a valid session; 403 for a state-changing request without its CSRF token or from
another origin), and the supervisor check (403 for agents)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from gateway.app.agent.security import COOKIE_NAME, CSRF_HEADER, SignedIn, csrf_matches, find_session
from gateway.app.agent.state import AgentConsole
from gateway.app.security import own_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse(status: int, code: str, headers: dict[str, str] | None = None, **extra: Any) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, **extra}, headers=headers)


def get_console(request: Request) -> AgentConsole:
    return request.app.state.agent


def get_db(console: Annotated[AgentConsole, Depends(get_console)]) -> Iterator[Session]:
    with console.db() as db:
        yield db


ConsoleDep = Annotated[AgentConsole, Depends(get_console)]
DbDep = Annotated[Session, Depends(get_db)]


def check_origin(request: Request) -> None:
    """A browser names the page that sent a state-changing request: it must be the console's own
    (a fund site allowed to embed the widget has no business posting here)."""
    origin = request.headers.get("origin")
    if request.method not in SAFE_METHODS and origin is not None and origin.rstrip("/") != own_origin(request):
        raise refuse(403, "forbidden_origin")


def signed_in(request: Request, console: ConsoleDep, db: DbDep) -> SignedIn:
    who, why = find_session(db, console.settings, request.cookies.get(COOKIE_NAME), console.clock())
    if who is None:
        raise refuse(401, why)
    if request.method not in SAFE_METHODS:
        check_origin(request)
        if not csrf_matches(who.session, request.headers.get(CSRF_HEADER)):
            raise refuse(403, "csrf_failed")
    return who


def supervisor(who: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    if not who.is_supervisor:
        raise refuse(403, "supervisors_only")
    return who


SignedInDep = Annotated[SignedIn, Depends(signed_in)]
SupervisorDep = Annotated[SignedIn, Depends(supervisor)]
