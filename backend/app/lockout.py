"""Failed attempts and locks.

Every failure (identity mismatch, wrong code, wrong phone) counts against two keys: the affiliate
number (within its fund, known or not) and the conversation. When either key reaches
MAX_FAILED_ATTEMPTS failures within FAILURE_WINDOW_SECONDS, both are locked for LOCK_SECONDS.
Keys are HMACs: the tables never hold a number or a conversation id."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.app.core.config import Settings
from backend.app.core.security import keyed_hash
from backend.app.db.models import FailedAttempt, Lock

_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def affiliate_key(settings: Settings, fund: str, number: str) -> str:
    return keyed_hash(settings.SECRET_KEY, "lock:affiliate", f"{fund}:{number}")


def conversation_key(settings: Settings, conversation_id: str) -> str:
    return keyed_hash(settings.SECRET_KEY, "lock:conversation", conversation_id)


def retry_after(session: Session, keys: Sequence[str], now: datetime) -> int | None:
    """Seconds until the last of the keys' locks ends, or None when none is locked."""
    until = session.scalar(select(func.max(Lock.locked_until)).where(Lock.key_hash.in_(keys)))
    if until is None:
        return None
    if until <= now:
        return None
    return max(1, math.ceil((until - now).total_seconds()))


def record_failure(session: Session, settings: Settings, keys: Sequence[str], now: datetime) -> int:
    """Count one failure against each key; lock them all when one reaches the limit.
    Returns the attempts left before a lock (0: locked now). The caller commits."""
    window_start = now - timedelta(seconds=settings.FAILURE_WINDOW_SECONDS)
    session.execute(delete(FailedAttempt).where(FailedAttempt.key_hash.in_(keys),
                                                FailedAttempt.failed_at <= window_start))
    session.add_all(FailedAttempt(key_hash=key, failed_at=now) for key in keys)
    session.flush()
    counts = session.execute(
        select(func.count()).select_from(FailedAttempt)
        .where(FailedAttempt.key_hash.in_(keys), FailedAttempt.failed_at > window_start)
        .group_by(FailedAttempt.key_hash)).scalars().all()
    attempts_left = max(0, settings.MAX_FAILED_ATTEMPTS - max(counts))
    if attempts_left == 0:
        _lock(session, keys, now + timedelta(seconds=settings.LOCK_SECONDS))
        clear_failures(session, keys)
    return attempts_left


def clear_failures(session: Session, keys: Sequence[str]) -> None:
    session.execute(delete(FailedAttempt).where(FailedAttempt.key_hash.in_(keys)))


def _lock(session: Session, keys: Sequence[str], until: datetime) -> None:
    insert = _UPSERT.get(session.get_bind().dialect.name)
    for key in keys:
        if insert is None:  # another database: no portable upsert, merge is good enough
            session.merge(Lock(key_hash=key, locked_until=until))
            continue
        statement = insert(Lock).values(key_hash=key, locked_until=until)
        session.execute(statement.on_conflict_do_update(
            index_elements=[Lock.key_hash], set_={"locked_until": statement.excluded.locked_until}))
