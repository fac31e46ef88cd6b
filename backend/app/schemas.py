"""Request and response bodies of the affiliate API (the published contract, backend/openapi.json)."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from backend.app.funds import Fund
from backend.app.identity import ascii_digits, clean_phone, normalize_affiliate_number

Amount = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", description="Decimal string, 2 decimals.",
                              examples=["1234.50"])]
VERIFICATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VerificationId = Annotated[str, Field(pattern=VERIFICATION_ID_PATTERN, examples=["q3JX0b8c2Qm9hW1dTz4yLg"])]


def _iso_date_text(value: object) -> object:
    """Only `YYYY-MM-DD` text: no timestamps, no datetimes (pydantic's lax mode accepts both)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("birth_date must be a date written YYYY-MM-DD")
    return value


def _normalize_code(raw: str) -> str:
    code = ascii_digits(raw).replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValueError("code must be the 6 digits received by SMS")
    return code


# ---- requests ------------------------------------------------------------------------------

class VerificationRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fund": "cnss_ma", "affiliate_number": "100 204 821", "birth_date": "1980-03-12",
        "conversation_id": "telegram:5550001"}]})

    fund: Fund
    affiliate_number: Annotated[str, Field(
        min_length=1, max_length=40,
        description="The affiliate number as the citizen typed it: 6 to 20 digits, spaces and dashes "
                    "allowed (removed), Arabic-Indic digits accepted."),
        AfterValidator(normalize_affiliate_number)]
    birth_date: Annotated[date, BeforeValidator(_iso_date_text), Field(description="YYYY-MM-DD.")]
    conversation_id: Annotated[str, Field(
        min_length=1, max_length=128,
        description="The caller's opaque id of the conversation: failures in one conversation lock it.")]


class ConfirmCodeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "482913"}]})

    code: Annotated[str, Field(
        min_length=1, max_length=16,
        description="The 6-digit code sent by SMS (spaces and Arabic-Indic digits accepted)."),
        AfterValidator(_normalize_code)]


class ConfirmPhoneRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "+212600000101"}]})

    phone: Annotated[str, StringConstraints(min_length=1, max_length=32), Field(
        description="The citizen's own phone number, as shared by their messaging app: international "
                    "(+212..., 00212..., 212...) or national (0...) form of the fund's country."),
        AfterValidator(clean_phone)]


IdentityCheck = Literal["id_card_and_birth_date", "birth_date_and_address", "callback_to_phone_on_file",
                        "document_at_counter"]


class AgentBalanceRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fund": "cnss_ma", "affiliate_number": "100 204 821", "agent_id": "amina",
        "identity_check": "id_card_and_birth_date",
        "reason": "Caller asks why health rights are suspended"}]})

    fund: Fund
    affiliate_number: Annotated[str, Field(
        min_length=1, max_length=40,
        description="The caller's affiliate number (same rules as for a verification)."),
        AfterValidator(normalize_affiliate_number)]
    agent_id: Annotated[str, Field(
        pattern=r"^[A-Za-z0-9._@-]{1,64}$",
        description="The console account of the agent making the look-up (recorded by the caller's audit log).")]
    identity_check: IdentityCheck = Field(
        description="How the agent checked the caller's identity: identity card number and birth date, "
                    "birth date and postal address, a call back to the phone on file, or a document shown "
                    "at a counter.")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=500), Field(
        description="Why the balance is read (5 to 500 characters).")]


# ---- successes -----------------------------------------------------------------------------

class VerificationCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "verification_id": "q3JX0b8c2Qm9hW1dTz4yLg", "status": "code_sent", "expires_in": 300}]})

    verification_id: VerificationId
    status: Literal["code_sent"]
    expires_in: int = Field(description="Seconds before the code expires.")


class TokenIssued(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "Vn3y3c1o1Qz0m7p8N2s6W9kq4Jx5b0aRt1uEhLd8fYc", "expires_in": 600}]})

    token: str = Field(description="Send it as `X-Verification-Token` to read this affiliate's balance.")
    expires_in: int = Field(description="Seconds before the token expires.")


class PeriodAmount(BaseModel):
    period: str = Field(pattern=r"^[0-9]{4}(-[0-9]{2})?$",
                        description="`YYYY-MM` (CNSS, monthly) or `YYYY` (CASNOS, annual).")
    amount: Amount


class DatedAmount(BaseModel):
    date: date
    amount: Amount


class InstalmentPlanOut(BaseModel):
    instalments_left: int = Field(ge=0)
    next_instalment_date: date
    amount: Amount


class HealthRights(BaseModel):
    open: bool
    since: date | None = Field(description="When the rights opened; null while they are closed.")
    reason: Literal["contributions_unpaid", "waiting_period", "first_contribution_pending"] | None = Field(
        description="Why the rights are closed; null when they are open. `contributions_unpaid`: "
                    "arrears; `waiting_period`: the waiting period after the first payment is running; "
                    "`first_contribution_pending`: newly registered, first contribution not yet paid.")


class Balance(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fund": "cnss_ma", "affiliate_ref": "•••••7356", "currency": "MAD",
        "contributions_due": [{"period": "2026-07", "amount": "135.00"},
                              {"period": "2026-08", "amount": "135.00"}],
        "penalties_due": "18.90", "total_due": "288.90",
        "last_payment": {"date": "2026-06-18", "amount": "135.00"},
        "next_deadline": {"date": "2026-11-30", "amount": "135.00"},
        "instalment_plan": None,
        "health_rights": {"open": False, "since": None, "reason": "contributions_unpaid"}}]})

    fund: Fund
    affiliate_ref: str = Field(description="The affiliate number masked to its last 4 digits.")
    currency: Literal["MAD", "DZD"]
    contributions_due: list[PeriodAmount] = Field(description="Unpaid contributions past their deadline.")
    penalties_due: Amount
    total_due: Amount = Field(description="Contributions due plus penalties.")
    last_payment: DatedAmount | None
    next_deadline: DatedAmount | None
    instalment_plan: InstalmentPlanOut | None
    health_rights: HealthRights


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "database_unavailable"]


# ---- errors --------------------------------------------------------------------------------

class _Code(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BadRequestDetail(_Code):
    code: Literal["bad_request"]


class UnauthorizedDetail(_Code):
    code: Literal["unauthorized"]


class IdentityNotVerifiedDetail(_Code):
    code: Literal["identity_not_verified"]


class InvalidCodeDetail(_Code):
    code: Literal["invalid_code"]
    attempts_left: int = Field(ge=0)


class ExpiredDetail(_Code):
    code: Literal["expired"]


class LockedDetail(_Code):
    code: Literal["locked"]
    retry_after: int = Field(ge=1, description="Seconds until the lock ends.")


class TooManyCodesDetail(_Code):
    code: Literal["too_many_codes"]
    retry_after: int = Field(ge=1, description="Seconds until another code may be sent.")


class NotFoundDetail(_Code):
    code: Literal["not_found"]


class SmsUnavailableDetail(_Code):
    code: Literal["sms_unavailable"]


class TokenRejectedDetail(_Code):
    code: Literal["invalid_token", "token_expired"]


class BadRequestError(BaseModel):
    """The body could not be read at all (for instance, it is not UTF-8)."""
    detail: BadRequestDetail


class UnauthorizedError(BaseModel):
    """The service credential is missing or wrong."""
    detail: UnauthorizedDetail


class IdentityNotVerifiedError(BaseModel):
    """Same answer for an unknown number, a wrong birth date and a number of another fund."""
    detail: IdentityNotVerifiedDetail


class InvalidCodeError(BaseModel):
    detail: InvalidCodeDetail


class ExpiredError(BaseModel):
    detail: ExpiredDetail


class LockedError(BaseModel):
    detail: LockedDetail


class TooManyCodesError(BaseModel):
    """Too many one-time codes were sent to this affiliate, or for this conversation, lately."""
    detail: TooManyCodesDetail


class NotFoundError(BaseModel):
    detail: NotFoundDetail


class SmsUnavailableError(BaseModel):
    """The identity matched but the SMS gateway failed; no code is pending."""
    detail: SmsUnavailableDetail


class BalanceUnauthorizedError(BaseModel):
    """The service credential is wrong (`unauthorized`), or the verification token is missing,
    unknown (`invalid_token`) or expired (`token_expired`)."""
    detail: UnauthorizedDetail | TokenRejectedDetail


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """What is invalid in the request. Submitted values are never echoed."""
    detail: list[ValidationIssue]
