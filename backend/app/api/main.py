"""The /v1 routes, all behind the service credential."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from backend.app.api.routes import balances, verifications
from backend.app.core.security import require_service_credential
from backend.app.schemas import UnauthorizedError

api_router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_service_credential)],
    responses={401: {"model": UnauthorizedError, "description": "Missing or wrong service credential."}},
)
api_router.include_router(verifications.router)
api_router.include_router(balances.router)
