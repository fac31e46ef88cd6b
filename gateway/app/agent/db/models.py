"""The console's tables.

Sessions are stored under the SHA-256 of their id (a copy of the table opens no session);
passwords as argon2id hashes. The audit log is append-only: each row carries the hash of the
previous one (gateway/app/agent/audit.py), `prev_hash` is unique so that two simultaneous
appends cannot both extend the same row, and triggers refuse UPDATE and DELETE (migration 0001)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
HASH = String(64)  # hex SHA-256


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in Python, a naive UTC timestamp in the database (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Account(Base):
    __tablename__ = "agent_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    fund: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))  # "agent" or "supervisor"
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # supervisors only
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code is accepted once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    id_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("agent_accounts.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """One failed sign-in, counted against a key: `account:<name>` or `address:<ip>` (hashed)."""
    __tablename__ = "agent_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(HASH, index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One balance look-up on behalf of a caller, allowed or refused."""
    __tablename__ = "agent_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent: Mapped[str] = mapped_column(String(64))
    fund: Mapped[str] = mapped_column(String(16), index=True)
    masked_number: Mapped[str] = mapped_column(String(32))
    number_hash: Mapped[str] = mapped_column(HASH, index=True)  # keyed: supervisors filter by number
    identity_check: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(HASH, unique=True)
    row_hash: Mapped[str] = mapped_column(HASH)


class AssistEvent(Base):
    """A suggestion shown to or copied by an agent: never the text the agent typed."""
    __tablename__ = "agent_assist_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    fund: Mapped[str] = mapped_column(String(16), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(64))  # None: "nothing matches" was shown
    rank: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(8))  # "shown" or "copied"


class ReviewDecision(Base):
    """A supervisor's decision on a group of declined or unsettled messages: exported as training
    examples of an intent, or marked out of scope. The turns it covers point to it (Turn.review_id)."""
    __tablename__ = "agent_review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    fund: Mapped[str] = mapped_column(String(16), index=True)
    supervisor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # "intent" or "out_of_scope"
    intent: Mapped[str | None] = mapped_column(String(64))
    examples: Mapped[int] = mapped_column(Integer)


class Turn(Base):
    """One citizen turn as the assistant handled it (gateway/app/agent/turnlog.py): never the raw text.

    `masked_text` is kept only for the turns the review loop needs (declined, or a clarification
    not followed by a choice), masked with bot.masking.mask_text; `conversation_hash` is keyed."""
    __tablename__ = "agent_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fund: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_hash: Mapped[str] = mapped_column(HASH, index=True)
    lang: Mapped[str] = mapped_column(String(8))
    script: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))  # answer, clarify, out_of_scope, handoff, balance...
    topic: Mapped[str | None] = mapped_column(String(64))
    settled: Mapped[bool | None] = mapped_column(Boolean)  # clarifications only: a choice followed
    masked_text: Mapped[str | None] = mapped_column(Text)
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_review_decisions.id", ondelete="SET NULL"), index=True)


OPEN_HANDOFF = text("status IN ('waiting', 'claimed')")


class Handoff(Base):
    """A conversation handed to the fund's agents (live handoff, gateway/app/agent/handoff/).

    `status`: waiting -> claimed (one agent holds it) -> returned (to the assistant) or closed
    (with an `outcome`); a waiting one may be closed too. The claim is one conditional UPDATE
    (store.claim): two agents cannot both hold it. At most one open (waiting or claimed) handoff
    per conversation: a partial unique index (migration 0003)."""
    __tablename__ = "agent_handoffs"
    __table_args__ = (Index("uq_agent_handoffs_open_conversation", "channel", "conversation_id", unique=True,
                            sqlite_where=OPEN_HANDOFF, postgresql_where=OPEN_HANDOFF),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)  # the channel's: web:<sid>, tg:<id>
    lang: Mapped[str] = mapped_column(String(8))  # the citizen's reply language
    reason: Mapped[str] = mapped_column(String(16))  # "asked" or "failures"
    status: Mapped[str] = mapped_column(String(16), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the wait before an agent answered
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    citizen_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # web: no widget open since


class HandoffMessage(Base):
    """One line of a handoff's transcript: always masked with bot.masking.mask_text."""
    __tablename__ = "agent_handoff_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("agent_handoffs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(16))  # citizen | assistant | agent | system
    author: Mapped[str | None] = mapped_column(String(64))  # the agent's account name
    text: Mapped[str] = mapped_column(Text)
