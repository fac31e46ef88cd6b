"""A caller's balance, read by an agent on their behalf: only after the agent says how the
caller's identity was checked (a fixed list) and why. Every attempt with a complete form, refused
or not, is written to the audit log before the answer leaves."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator

from gateway.app.agent import audit
from gateway.app.agent.deps import ConsoleDep, DbDep, SignedInDep, refuse

logger = logging.getLogger("sanad.gateway.agent.balance")
router = APIRouter(tags=["agent"])

# The same list as the affiliate API's `identity_check` (backend/app/schemas.py; a test compares them).
IDENTITY_CHECKS = ("id_card_and_birth_date", "birth_date_and_address", "callback_to_phone_on_file",
                   "document_at_counter")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.]+")
MASK = "•••••"


def normalize_number(raw: str) -> str:
    number = _SEPARATORS.sub("", raw.translate(_DIGITS))
    if not re.fullmatch(r"[0-9]{6,20}", number):
        raise ValueError("the affiliate number must be 6 to 20 digits")
    return number


def mask(number: str) -> str:
    return MASK + number[-4:]


def number_hash(key: str, fund: str, number: str) -> str:
    """Keyed, so that supervisors can find a number's look-ups without the log holding it."""
    return hmac.new(key.encode(), f"agent-audit-number\x1f{fund}:{number}".encode(), hashlib.sha256).hexdigest()


class LookupRequest(BaseModel):
    affiliate_number: str = Field(min_length=1, max_length=40)
    identity_check: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("affiliate_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return normalize_number(value)

    @field_validator("identity_check")
    @classmethod
    def _check(cls, value: str) -> str:
        if value not in IDENTITY_CHECKS:
            raise ValueError("identity_check must be one of the listed checks")
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 5:
            raise ValueError("the reason must have at least 5 characters")
        return value


@router.post("/balance-lookups", summary="A caller's masked balance, the look-up written to the audit log")
async def balance_lookup(body: LookupRequest, who: SignedInDep, console: ConsoleDep, db: DbDep) -> dict:
    if not console.backend.configured:
        outcome, balance = "console_not_configured", None
    else:
        result = await console.backend.balance_lookup(
            fund=who.fund, affiliate_number=body.affiliate_number, agent_id=who.account.name,
            identity_check=body.identity_check, reason=body.reason)
        outcome, balance = result.outcome, result.balance
    entry = await run_in_threadpool(
        audit.append, db, at=console.clock(), agent=who.account.name, fund=who.fund,
        masked_number=mask(body.affiliate_number),
        number_hash=number_hash(console.number_key, who.fund, body.affiliate_number),
        identity_check=body.identity_check, reason=body.reason, result=outcome)
    logger.info("balance look-up on behalf by %s: %s (audit row %s)", who.account.name, outcome, entry.id)
    if balance is None:
        status = 404 if outcome == "not_found" else 503
        raise refuse(status, outcome, audit_id=entry.id)
    return {"audit_id": entry.id, "balance": balance}
