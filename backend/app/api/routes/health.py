from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from backend.app.db.models import Affiliate
from backend.app.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness (no credential needed)")
def health() -> Health:
    return Health(status="ok")


@router.get("/health/ready", response_model=Readiness, summary="Readiness: the affiliates can be read (no credential needed)",
            responses={503: {"model": Readiness, "description": "The database does not answer, or is not migrated."}})
def ready(request: Request) -> JSONResponse:
    """200 when the affiliates' table answers a query, else 503 `database_unavailable` (server
    unreachable, or not migrated): the process is alive, a load balancer stops sending it
    requests, nothing restarts it."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(select(Affiliate.id).limit(1))
    except SQLAlchemyError:
        return JSONResponse({"status": "database_unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
