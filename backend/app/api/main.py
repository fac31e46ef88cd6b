"""The /v1 routes: the bot's behind the service credential, /v1/agent behind the console's."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from backend.app.api.routes import agent_lookups, balances, verifications
from backend.app.core.security import require_agent_credential, require_service_credential
from backend.app.schemas import UnauthorizedError

api_router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_service_credential)],
    responses={401: {"model": UnauthorizedError, "description": "Missing or wrong service credential."}},
)
api_router.include_router(verifications.router)
api_router.include_router(balances.router)

agent_router = APIRouter(
    prefix="/v1/agent",
    dependencies=[Depends(require_agent_credential)],
    responses={401: {"model": UnauthorizedError, "description": "Missing or wrong agent console credential."}},
)
agent_router.include_router(agent_lookups.router)
