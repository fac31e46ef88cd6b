"""Deleting what no longer serves: a verification, a token or a lock past its end is never read
again (the routes check `expires_at` / `locked_until`), and a failed attempt older than the
failure window no longer counts, nor does a code sent before the SMS window. Kept, they would only be a record of who tried to verify and
when: data minimisation says delete them.

`purge_expired` runs at the API's start and then every PURGE_INTERVAL_SECONDS (see main.py),
and on demand with `python -m backend.app.manage purge`."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from backend.app import sms_limits
from backend.app.core.config import Settings
from backend.app.db.models import CodeSend, FailedAttempt, Lock, Verification, VerificationToken

logger = logging.getLogger("sanad.backend.retention")


def purge_expired(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Delete the rows that ended before `now`; returns how many per table. Commits."""
    failures_cutoff = now - timedelta(seconds=settings.FAILURE_WINDOW_SECONDS)
    statements = {
        "verifications": delete(Verification).where(Verification.expires_at <= now),
        "verification_tokens": delete(VerificationToken).where(VerificationToken.expires_at <= now),
        "locks": delete(Lock).where(Lock.locked_until <= now),
        "failed_attempts": delete(FailedAttempt).where(FailedAttempt.failed_at <= failures_cutoff),
        "code_sends": delete(CodeSend).where(sms_limits.purge_condition(settings, now)),
    }
    counts = {table: session.execute(statement).rowcount for table, statement in statements.items()}
    session.commit()
    return counts


async def purge_periodically(make_session: sessionmaker, settings: Settings,
                             clock: Callable[[], datetime]) -> None:
    """Purge now, then every PURGE_INTERVAL_SECONDS, until cancelled (at shutdown). A failed
    purge is logged and retried at the next interval: it must never take the API down."""
    while True:
        try:
            counts = await asyncio.to_thread(purge_in_new_session, make_session, settings, clock())
            if any(counts.values()):
                logger.info("purged expired rows: %s", counts)
        except Exception:  # noqa: BLE001 - logged; housekeeping must not stop the service
            logger.exception("purge of expired rows failed")
        await asyncio.sleep(settings.PURGE_INTERVAL_SECONDS)


def purge_in_new_session(make_session: sessionmaker, settings: Settings, now: datetime) -> dict[str, int]:
    """`purge_expired` in a session of its own (the periodic task, `manage purge`)."""
    with make_session() as session:
        return purge_expired(session, settings, now)
