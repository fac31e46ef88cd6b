"""The balance of the affiliate a verification token was issued for."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from backend.app.api.deps import ClockDep, SessionDep, SettingsDep
from backend.app.api.errors import http_error
from backend.app.core.security import keyed_hash
from backend.app.db.models import Affiliate, VerificationToken
from backend.app.funds import CURRENCY, Fund
from backend.app.identity import mask_number
from backend.app.schemas import (
    Balance,
    BalanceUnauthorizedError,
    DatedAmount,
    HealthRights,
    InstalmentPlanOut,
    PeriodAmount,
    ValidationErrorResponse,
)

router = APIRouter(tags=["balances"])


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def balance_of(affiliate: Affiliate) -> Balance:
    fund = Fund(affiliate.fund)
    due_cents = sum(item.amount_cents for item in affiliate.contributions_due)
    last = max(affiliate.payments, key=lambda payment: payment.paid_on, default=None)
    plan = affiliate.instalment_plan
    return Balance(
        fund=fund,
        affiliate_ref=mask_number(affiliate.number),
        currency=CURRENCY[fund],
        contributions_due=[PeriodAmount(period=item.period, amount=money(item.amount_cents))
                           for item in affiliate.contributions_due],
        penalties_due=money(affiliate.penalties_due_cents),
        total_due=money(due_cents + affiliate.penalties_due_cents),
        last_payment=last and DatedAmount(date=last.paid_on, amount=money(last.amount_cents)),
        next_deadline=(
            DatedAmount(date=affiliate.next_deadline_date, amount=money(affiliate.next_deadline_cents))
            if affiliate.next_deadline_date and affiliate.next_deadline_cents is not None else None),
        instalment_plan=plan and InstalmentPlanOut(
            instalments_left=plan.instalments_left, next_instalment_date=plan.next_instalment_date,
            amount=money(plan.instalment_cents)),
        health_rights=HealthRights(open=affiliate.health_rights_open, since=affiliate.health_rights_since,
                                   reason=affiliate.health_rights_reason),
    )


@router.get("/balance", response_model=Balance,
            summary="The verified affiliate's balance: contributions due, penalties, payments, rights",
            responses={401: {"model": BalanceUnauthorizedError,
                                  "description": "Wrong service credential, or a missing, unknown or expired "
                                                 "verification token."},
                       422: {"model": ValidationErrorResponse}})
def get_balance(
    session: SessionDep, settings: SettingsDep, clock: ClockDep,
    token: Annotated[str | None, Header(alias="X-Verification-Token",
                                        description="The token of a confirmed verification.")] = None,
) -> Balance:
    row = token and session.get(VerificationToken, keyed_hash(settings.SECRET_KEY, "token", token))
    if not row:
        raise http_error(401, "invalid_token")
    if clock() >= row.expires_at:
        raise http_error(401, "token_expired")
    return balance_of(session.get_one(Affiliate, row.affiliate_id))
