"""A caller's balance, read by a call-centre agent after checking the caller's identity by phone.

The console's own credential (not the bot's) opens this route; the agent's id, how the identity
was checked and why are required, and the console keeps the audit log of every look-up."""
from __future__ import annotations

import logging

from fastapi import APIRouter
from sqlalchemy import select

from backend.app.api.deps import SessionDep
from backend.app.api.errors import http_error
from backend.app.api.routes.balances import balance_of
from backend.app.db.models import Affiliate
from backend.app.schemas import AgentBalanceRequest, Balance, BadRequestError, NotFoundError, ValidationErrorResponse

logger = logging.getLogger("sanad.backend.agent")
router = APIRouter(tags=["agent"])


@router.post(
    "/balance-lookups", response_model=Balance,
    summary="An agent reads a caller's balance (masked number) after checking their identity by phone",
    responses={400: {"model": BadRequestError, "description": "The body could not be read (for instance, not UTF-8)."},
               404: {"model": NotFoundError, "description": "No affiliate with this number in this fund."},
               422: {"model": ValidationErrorResponse,
                     "description": "Invalid request (values are not echoed)."}},
)
def agent_balance_lookup(body: AgentBalanceRequest, session: SessionDep) -> Balance:
    affiliate = session.scalar(select(Affiliate).where(Affiliate.fund == body.fund,
                                                       Affiliate.number == body.affiliate_number))
    # The agent id and the check's kind are not the caller's data; the number and reason stay out.
    logger.info("agent balance look-up by %s (%s): %s", body.agent_id, body.identity_check,
                "found" if affiliate else "not found")
    if affiliate is None:
        raise http_error(404, "not_found")
    return balance_of(affiliate)
