"""Limits on one-time codes sent by SMS.

At most SMS_MAX_PER_AFFILIATE codes to one affiliate's phone and SMS_MAX_PER_CONVERSATION codes
for one conversation within SMS_WINDOW_SECONDS: whoever knows a number and its birth date must
not be able to flood the affiliate's phone, nor one conversation cycle through affiliates. This
is enforced here because the backend is the only place every channel goes through. Each sent code
is recorded under the same two HMAC keys as the lockout (backend/app/lockout.py), so the table
never holds a number or a conversation id.

Two requests racing can each pass the count once (one code over the limit at most): acceptable
for a flood guard, and it needs no lock."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.core.config import Settings
from backend.app.db.models import CodeSend


def retry_after(session: Session, settings: Settings, affiliate_key: str, conversation_key: str,
                now: datetime) -> int | None:
    """Seconds until another code may be sent for these keys, or None when one may be sent now."""
    since = now - timedelta(seconds=settings.SMS_WINDOW_SECONDS)
    waits = []
    for key, limit in ((affiliate_key, settings.SMS_MAX_PER_AFFILIATE),
                       (conversation_key, settings.SMS_MAX_PER_CONVERSATION)):
        sent = session.scalars(select(CodeSend.sent_at).where(CodeSend.key_hash == key, CodeSend.sent_at > since)
                               .order_by(CodeSend.sent_at.desc()).limit(limit)).all()
        if len(sent) >= limit:  # the oldest of the last `limit` sends must leave the window first
            waits.append(max(1, math.ceil((sent[-1] - since).total_seconds())))
    return max(waits) if waits else None


def record_send(session: Session, keys: Sequence[str], now: datetime) -> None:
    session.add_all(CodeSend(key_hash=key, sent_at=now) for key in keys)


def purge_condition(settings: Settings, now: datetime):
    """Rows that no longer count towards any limit."""
    return CodeSend.sent_at <= now - timedelta(seconds=settings.SMS_WINDOW_SECONDS)
