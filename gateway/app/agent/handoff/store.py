"""The handoffs in the console's database (synchronous SQLAlchemy: the desk calls these off the
event loop). Every state change is one conditional UPDATE whose row count says who won, so two
agents (or two gateway processes) acting at once cannot both succeed; every text stored is
masked with bot.masking.mask_text, the function of the tracker store and the logs."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.masking import mask_text
from gateway.app.agent.db.models import Account, Handoff, HandoffMessage

WAITING, CLAIMED, RETURNED, CLOSED = "waiting", "claimed", "returned", "closed"
OPEN = (WAITING, CLAIMED)
OUTCOMES = ("resolved", "referred", "citizen_left", "not_resolved", "abusive")
MAX_TEXT_CHARS = 2000


def masked(text: str) -> str:
    return mask_text(" ".join(str(text).split()))[:MAX_TEXT_CHARS]


def open_for(db: Session, channel: str, conversation_id: str) -> Optional[Handoff]:
    return db.scalars(select(Handoff).where(Handoff.channel == channel, Handoff.conversation_id == conversation_id,
                                            Handoff.status.in_(OPEN))).first()


def open_keys(db: Session) -> set[tuple[str, str]]:
    """(channel, conversation id) of every open handoff: a fund's inbox, a few hundred at most."""
    rows = db.execute(select(Handoff.channel, Handoff.conversation_id).where(Handoff.status.in_(OPEN)))
    return {(channel, conversation_id) for channel, conversation_id in rows}


def open_handoff(db: Session, *, fund: str, channel: str, conversation_id: str, lang: str, reason: str,
                 now: datetime, history: list[tuple[str, str]]) -> tuple[Handoff, bool]:
    """The conversation's open handoff, created (with the recent `history`, masked) if there is
    none: (handoff, created). Two requests at once create one (the partial unique index)."""
    existing = open_for(db, channel, conversation_id)
    if existing is not None:
        return existing, False
    handoff = Handoff(fund=fund, channel=channel, conversation_id=conversation_id, lang=lang[:8],
                      reason=reason, status=WAITING, created_at=now)
    db.add(handoff)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        return open_for(db, channel, conversation_id), False
    db.add_all(HandoffMessage(handoff_id=handoff.id, at=now, sender=sender, text=masked(text))
               for sender, text in history if text)
    db.commit()
    return handoff, True


def add_message(db: Session, handoff_id: int, sender: str, text: str, now: datetime,
                author: Optional[str] = None) -> HandoffMessage:
    row = HandoffMessage(handoff_id=handoff_id, at=now, sender=sender, author=author, text=masked(text))
    db.add(row)
    db.commit()
    return row


def position(db: Session, handoff: Handoff) -> int:
    """1 for the first in the fund's queue."""
    ahead = db.scalar(select(func.count()).select_from(Handoff).where(
        Handoff.fund == handoff.fund, Handoff.status == WAITING, Handoff.id < handoff.id))
    return int(ahead) + 1


def _changed(db: Session, statement) -> bool:
    won = db.execute(statement).rowcount == 1
    db.commit()
    return won


def claim(db: Session, handoff_id: int, fund: str, agent_id: int, now: datetime) -> bool:
    """The database decides: of two agents claiming at once, one UPDATE finds the row waiting."""
    return _changed(db, update(Handoff).where(Handoff.id == handoff_id, Handoff.fund == fund,
                                              Handoff.status == WAITING)
                    .values(status=CLAIMED, agent_id=agent_id, claimed_at=now))


def hand_back(db: Session, handoff_id: int, fund: str, agent_id: int, now: datetime) -> bool:
    return _changed(db, update(Handoff).where(Handoff.id == handoff_id, Handoff.fund == fund,
                                              Handoff.status == CLAIMED, Handoff.agent_id == agent_id)
                    .values(status=RETURNED, ended_at=now))


def close(db: Session, handoff_id: int, fund: str, agent_id: int, outcome: str, now: datetime) -> bool:
    """A waiting handoff (the citizen left, say) or one the agent holds."""
    mine_or_waiting = (Handoff.status == WAITING) | ((Handoff.status == CLAIMED) & (Handoff.agent_id == agent_id))
    return _changed(db, update(Handoff).where(Handoff.id == handoff_id, Handoff.fund == fund, mine_or_waiting)
                    .values(status=CLOSED, outcome=outcome, ended_at=now,
                            agent_id=func.coalesce(Handoff.agent_id, agent_id)))


def note_reply(db: Session, handoff_id: int, now: datetime) -> None:
    db.execute(update(Handoff).where(Handoff.id == handoff_id, Handoff.first_reply_at.is_(None))
               .values(first_reply_at=now))
    db.commit()


def set_presence(db: Session, channel: str, conversation_id: str, left_at: Optional[datetime]) -> Optional[Handoff]:
    """Record that the citizen's widget closed (`left_at`) or is back (None); the open handoff, if any."""
    handoff = open_for(db, channel, conversation_id)
    if handoff is None or (handoff.citizen_left_at is None) == (left_at is None):
        return None
    handoff.citizen_left_at = left_at
    db.commit()
    return handoff


def get(db: Session, handoff_id: int, fund: str) -> Optional[Handoff]:
    """A handoff of `fund`; one of another fund is as unknown as one that does not exist."""
    handoff = db.get(Handoff, handoff_id)
    return handoff if handoff is not None and handoff.fund == fund else None


def inbox(db: Session, fund: str) -> list[Handoff]:
    return list(db.scalars(select(Handoff).where(Handoff.fund == fund, Handoff.status.in_(OPEN))
                           .order_by(Handoff.id)))


def transcript(db: Session, handoff_id: int) -> list[HandoffMessage]:
    return list(db.scalars(select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id)
                           .order_by(HandoffMessage.id)))


def agent_names(db: Session, handoffs: list[Handoff]) -> dict[int, str]:
    ids = {h.agent_id for h in handoffs if h.agent_id is not None}
    if not ids:
        return {}
    return dict(db.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())


def summary(handoff: Handoff, now: datetime, gone_after: timedelta, agents: dict[int, str],
            me: Optional[int] = None) -> dict:
    """What the inbox shows of a handoff (no text)."""
    left = handoff.citizen_left_at
    return {"id": handoff.id, "channel": handoff.channel, "lang": handoff.lang, "reason": handoff.reason,
            "status": handoff.status, "created_at": handoff.created_at.isoformat(),
            "waiting_seconds": max(0, int(((handoff.claimed_at or now) - handoff.created_at).total_seconds())),
            "agent": agents.get(handoff.agent_id), "mine": me is not None and handoff.agent_id == me,
            "left_at": left.isoformat() if left else None, "gone": bool(left and now - left >= gone_after),
            "outcome": handoff.outcome}


def message_json(row: HandoffMessage) -> dict:
    return {"id": row.id, "at": row.at.isoformat(), "sender": row.sender, "author": row.author, "text": row.text}
