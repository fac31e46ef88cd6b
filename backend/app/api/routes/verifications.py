"""Verifying an affiliate: number + birth date, then a one-time code (or the phone on file)."""
from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta
from typing import Annotated, NoReturn

from fastapi import APIRouter, Path
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.app import lockout, sms_limits
from backend.app.api.deps import ClockDep, SessionDep, SettingsDep, SmsSenderDep
from backend.app.api.errors import http_error
from backend.app.core.config import Settings
from backend.app.core.security import keyed_hash, new_code, new_token, new_verification_id
from backend.app.db.models import Affiliate, Verification, VerificationToken
from backend.app.identity import to_e164
from backend.app.schemas import (
    VERIFICATION_ID_PATTERN,
    BadRequestError,
    ConfirmCodeRequest,
    ConfirmPhoneRequest,
    ExpiredError,
    IdentityNotVerifiedError,
    InvalidCodeError,
    LockedError,
    NotFoundError,
    SmsUnavailableError,
    TokenIssued,
    TooManyCodesError,
    ValidationErrorResponse,
    VerificationCreated,
    VerificationRequest,
)
from backend.app.sms import code_message

logger = logging.getLogger("sanad.backend.verifications")
router = APIRouter(prefix="/verifications", tags=["verifications"], responses={
    400: {"model": BadRequestError, "description": "The body could not be read (for instance, not UTF-8)."}})

# Compared against when the number is unknown, so that both failures do the same work.
_DUMMY_BIRTH_DATE = "1900-01-01"
_LOCKED = {"model": LockedError, "description": "Too many failed attempts on this affiliate or "
           "conversation: retry after `retry_after` seconds (also in the Retry-After header).",
           "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}}
_INVALID = {"model": ValidationErrorResponse, "description": "Invalid request (values are not echoed)."}
_CHALLENGE_RESPONSES = {
    403: {"model": InvalidCodeError, "description": "Wrong code (or phone); `attempts_left` before a lock."},
    404: {"model": NotFoundError, "description": "No such verification."},
    410: {"model": ExpiredError,
          "description": "The code expired, was used, or was replaced by a newer one."},
    422: _INVALID,
    423: _LOCKED,
}
VerificationIdPath = Annotated[str, Path(pattern=VERIFICATION_ID_PATTERN)]


def _raise_if_locked(session: Session, keys: tuple[str, str], now: datetime) -> None:
    seconds = lockout.retry_after(session, keys, now)
    if seconds is not None:
        raise http_error(423, "locked", headers={"Retry-After": str(seconds)}, retry_after=seconds)


def _raise_if_too_many_codes(session: Session, settings: Settings, keys: tuple[str, str], now: datetime) -> None:
    seconds = sms_limits.retry_after(session, settings, *keys, now)
    if seconds is not None:
        logger.info("verification refused: too many codes sent lately")
        raise http_error(429, "too_many_codes", headers={"Retry-After": str(seconds)}, retry_after=seconds)


def _birth_date_hash(settings: Settings, value: str) -> str:
    return keyed_hash(settings.SECRET_KEY, "birth_date", value)


def _code_hash(settings: Settings, verification_id: str, code: str) -> str:
    return keyed_hash(settings.SECRET_KEY, f"otp:{verification_id}", code)


@router.post(
    "", status_code=201, response_model=VerificationCreated,
    summary="Check an affiliate number and birth date; send a one-time code to the phone on file",
    responses={403: {"model": IdentityNotVerifiedError,
                     "description": "Not verified: an unknown number, a wrong birth date and a number "
                                    "of the other fund get this same answer."},
               422: _INVALID, 423: _LOCKED,
               429: {"model": TooManyCodesError,
                     "description": "Too many codes sent to this affiliate or for this conversation within "
                                    "the SMS window: retry after `retry_after` seconds (also in Retry-After).",
                     "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}},
               503: {"model": SmsUnavailableError, "description": "The code could not be sent: try later."}},
)
def start_verification(body: VerificationRequest, session: SessionDep, settings: SettingsDep,
                       clock: ClockDep, sms: SmsSenderDep) -> VerificationCreated:
    now = clock()
    keys = (lockout.affiliate_key(settings, body.fund, body.affiliate_number),
            lockout.conversation_key(settings, body.conversation_id))
    _raise_if_locked(session, keys, now)

    affiliate = session.scalar(select(Affiliate).where(Affiliate.fund == body.fund,
                                                       Affiliate.number == body.affiliate_number))
    on_file = affiliate.birth_date.isoformat() if affiliate else _DUMMY_BIRTH_DATE
    birth_date_matches = hmac.compare_digest(_birth_date_hash(settings, on_file),
                                             _birth_date_hash(settings, body.birth_date.isoformat()))
    if affiliate is None or not birth_date_matches:
        lockout.record_failure(session, settings, keys, now)
        session.commit()
        logger.info("verification refused: identity not verified")
        raise http_error(403, "identity_not_verified")

    _raise_if_too_many_codes(session, settings, keys, now)
    # Only the newest code of an affiliate is valid.
    session.execute(update(Verification)
                    .where(Verification.affiliate_id == affiliate.id, Verification.status == "pending")
                    .values(status="superseded"))
    verification_id, code = new_verification_id(), new_code()
    session.add(Verification(
        id=verification_id, affiliate_id=affiliate.id, conversation_key=keys[1],
        code_hash=_code_hash(settings, verification_id, code), status="pending",
        created_at=now, expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS)))
    sms_limits.record_send(session, keys, now)
    session.commit()
    try:
        sms.send(affiliate.phone, code_message(affiliate.fund, code, settings.OTP_TTL_SECONDS))
    except Exception as error:  # a gateway's message may quote the phone: log the type only
        session.execute(update(Verification).where(Verification.id == verification_id).values(status="burnt"))
        session.commit()
        logger.error("verification aborted: the SMS could not be sent (%s)", type(error).__name__)
        raise http_error(503, "sms_unavailable") from None
    logger.info("verification started: code sent")
    return VerificationCreated(verification_id=verification_id, status="code_sent",
                               expires_in=settings.OTP_TTL_SECONDS)


class _Challenge:
    """A pending verification being answered, with the lock keys it counts against."""

    def __init__(self, session: Session, settings: Settings, verification_id: str, now: datetime) -> None:
        self.session, self.settings, self.now = session, settings, now
        verification = session.get(Verification, verification_id)
        if verification is None:
            raise http_error(404, "not_found")
        self.verification = verification
        self.affiliate = session.get_one(Affiliate, verification.affiliate_id)
        self.keys = (lockout.affiliate_key(settings, self.affiliate.fund, self.affiliate.number),
                     verification.conversation_key)
        _raise_if_locked(session, self.keys, now)
        if verification.status != "pending" or now >= verification.expires_at:
            raise http_error(410, "expired")

    def fail(self) -> NoReturn:
        attempts_left = lockout.record_failure(self.session, self.settings, self.keys, self.now)
        if attempts_left == 0:
            self.verification.status = "burnt"
        self.session.commit()
        logger.info("verification answer rejected")
        raise http_error(403, "invalid_code", attempts_left=attempts_left)

    def succeed(self) -> TokenIssued:
        # Conditional update: of two simultaneous right answers, only one gets a token.
        consumed = self.session.execute(
            update(Verification)
            .where(Verification.id == self.verification.id, Verification.status == "pending")
            .values(status="confirmed"), execution_options={"synchronize_session": False})
        if consumed.rowcount != 1:
            self.session.rollback()
            raise http_error(410, "expired")
        lockout.clear_failures(self.session, self.keys)
        token = new_token()
        self.session.add(VerificationToken(
            token_hash=keyed_hash(self.settings.SECRET_KEY, "token", token), affiliate_id=self.affiliate.id,
            created_at=self.now, expires_at=self.now + timedelta(seconds=self.settings.TOKEN_TTL_SECONDS)))
        self.session.commit()
        logger.info("verification confirmed: token issued")
        return TokenIssued(token=token, expires_in=self.settings.TOKEN_TTL_SECONDS)


@router.post("/{verification_id}/confirm", response_model=TokenIssued, responses=_CHALLENGE_RESPONSES,
             summary="Answer with the one-time code; get a short-lived verification token")
def confirm_code(verification_id: VerificationIdPath, body: ConfirmCodeRequest, session: SessionDep,
                 settings: SettingsDep, clock: ClockDep) -> TokenIssued:
    challenge = _Challenge(session, settings, verification_id, clock())
    if not hmac.compare_digest(challenge.verification.code_hash,
                               _code_hash(settings, verification_id, body.code)):
        challenge.fail()
    return challenge.succeed()


@router.post("/{verification_id}/confirm-phone", response_model=TokenIssued, responses=_CHALLENGE_RESPONSES,
             summary="Answer with the citizen's own phone number (a contact shared by the messaging app)",
             description="For channels that prove the phone belongs to the sender (Telegram's shared own "
                         "contact): the caller must have checked that. A number that is not the one on file "
                         "counts as a wrong code.")
def confirm_phone(verification_id: VerificationIdPath, body: ConfirmPhoneRequest, session: SessionDep,
                  settings: SettingsDep, clock: ClockDep) -> TokenIssued:
    challenge = _Challenge(session, settings, verification_id, clock())
    presented = to_e164(body.phone, challenge.affiliate.fund) or ""
    if not hmac.compare_digest(presented.encode(), challenge.affiliate.phone.encode()):
        challenge.fail()
    return challenge.succeed()
