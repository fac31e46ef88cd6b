"""Who is signed in to the console, and how: argon2id passwords (argon2-cffi), TOTP for
supervisors (pyotp), server-side sessions with idle and absolute expiry, the CSRF token of each
session, and the throttling of failed sign-ins (per account and per address, the same answer
whether the account exists or not)."""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.models import Account, AgentSession, LoginFailure

ROLES = ("agent", "supervisor")
MIN_PASSWORD_CHARS = 12
COOKIE_NAME = "sanad_agent"
CSRF_HEADER = "X-CSRF-Token"
TOTP_ISSUER = "Sanad console"

# argon2id with argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes).
password_hasher = PasswordHasher()
# Checked against when the account does not exist, so that both failures cost the same.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def check_password_policy(password: str) -> None:
    """ValueError when a chosen password is too weak to be accepted."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")


def generated_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def password_matches(account: Optional[Account], password: str) -> bool:
    """Constant-ish time: an unknown account still costs one argon2 verification."""
    try:
        return password_hasher.verify(account.password_hash if account else _DUMMY_HASH, password) \
            and account is not None
    except (VerificationError, InvalidHashError):
        return False


# ---- TOTP --------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(account: Account) -> str:
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.name, issuer_name=TOTP_ISSUER)


def accept_totp(account: Account, code: str, now: datetime) -> bool:
    """The code of the current 30-second step or of its neighbours (clock drift), never one that
    was already used (or an older one): a code overheard is worth nothing once entered."""
    if not account.totp_secret or not code:
        return False
    code = "".join(ch for ch in code if not ch.isspace())
    totp = pyotp.TOTP(account.totp_secret)
    for drift in (0, -1, 1):
        moment = now + timedelta(seconds=drift * totp.interval)
        step = totp.timecode(moment)
        if hmac.compare_digest(totp.at(moment), code) and step > (account.totp_last_step or -1):
            account.totp_last_step = step
            return True
    return False


# ---- throttling --------------------------------------------------------------------------------

def failure_keys(name: str, address: str) -> tuple[str, str]:
    """Hashed, like the backend's lock keys: the table holds neither names nor addresses."""
    return sha256(f"account:{name.strip().lower()}"), sha256(f"address:{address}")


def retry_after(db: Session, settings: AgentSettings, keys: tuple[str, ...], now: datetime,
                allowed: Optional[int] = None) -> Optional[int]:
    """Seconds until a sign-in may be tried again, when a key has more than `allowed` failures in
    the window (LOGIN_MAX_FAILURES - 1 by default: the next attempt would be one too many)."""
    allowed = settings.LOGIN_MAX_FAILURES - 1 if allowed is None else allowed
    window_start = now - timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    retry = None
    for key in keys:
        recent = LoginFailure.key_hash == key, LoginFailure.failed_at > window_start
        count = db.scalar(select(func.count()).select_from(LoginFailure).where(*recent))
        if count > allowed:
            oldest = db.scalar(select(func.min(LoginFailure.failed_at)).where(*recent))
            seconds = math.ceil((oldest + timedelta(seconds=settings.LOGIN_WINDOW_SECONDS) - now).total_seconds())
            retry = max(retry or 0, seconds, 1)
    return retry


def record_failure(db: Session, settings: AgentSettings, keys: tuple[str, ...], now: datetime) -> list[LoginFailure]:
    """Count an attempt as failed against each key (the caller commits); returns the rows, which
    `forget` removes when the attempt turns out right."""
    window_start = now - timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    db.execute(delete(LoginFailure).where(LoginFailure.failed_at <= window_start))
    rows = [LoginFailure(key_hash=key, failed_at=now) for key in keys]
    db.add_all(rows)
    return rows


def forget(db: Session, rows: list[LoginFailure]) -> None:
    for row in rows:
        db.delete(row)


def clear_account_failures(db: Session, account_key: str) -> None:
    """After a successful sign-in. The address's failures stay: an attacker signing in to their
    own account between guesses must not reset the count."""
    db.execute(delete(LoginFailure).where(LoginFailure.key_hash == account_key))


# ---- sessions ----------------------------------------------------------------------------------

@dataclass
class SignedIn:
    """The signed-in account of a request, as its session says."""
    session: AgentSession
    account: Account

    @property
    def fund(self) -> str:
        return self.account.fund

    @property
    def is_supervisor(self) -> bool:
        return self.account.role == "supervisor"


def open_session(db: Session, account: Account, now: datetime) -> tuple[str, AgentSession]:
    """A new session (a new id at every sign-in); returns the cookie value, stored only hashed."""
    session_id = secrets.token_urlsafe(32)
    row = AgentSession(id_hash=sha256(session_id), account_id=account.id,
                       csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now)
    db.add(row)
    return session_id, row


def session_expired(settings: AgentSettings, row: AgentSession, now: datetime) -> bool:
    return (now - row.last_seen_at >= timedelta(seconds=settings.SESSION_IDLE_SECONDS)
            or now - row.created_at >= timedelta(seconds=settings.SESSION_MAX_SECONDS))


def find_session(db: Session, settings: AgentSettings, session_id: Optional[str],
                 now: datetime) -> tuple[Optional[SignedIn], str]:
    """(the signed-in account or None, why not: "" | "no_session" | "session_expired")."""
    if not session_id or len(session_id) > 128:
        return None, "no_session"
    row = db.get(AgentSession, sha256(session_id))
    if row is None:
        return None, "no_session"
    account = db.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        db.delete(row)
        db.commit()
        return None, "no_session"
    if session_expired(settings, row, now):
        db.delete(row)
        db.commit()
        return None, "session_expired"
    if now - row.last_seen_at >= timedelta(seconds=15):  # a write per 15 s, not per keystroke
        row.last_seen_at = now
        db.commit()
    return SignedIn(row, account), ""


def end_sessions(db: Session, account: Account) -> int:
    return db.execute(delete(AgentSession).where(AgentSession.account_id == account.id)).rowcount


def csrf_matches(row: AgentSession, presented: Optional[str]) -> bool:
    return bool(presented) and hmac.compare_digest(row.csrf_token.encode(), presented.encode())
