"""The affiliate system's tables.

`affiliates` and the tables hanging off it stand in for the fund's own records. The verification
tables hold only HMACs of codes, tokens, conversation ids and lock keys, never the values.
Amounts are integer minor units (centimes), exact on every database."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.db.base import Base, UTCDateTime

HASH = String(64)  # hex HMAC-SHA256


class Affiliate(Base):
    __tablename__ = "affiliates"
    __table_args__ = (UniqueConstraint("fund", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32))  # normalised: digits only
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20))  # E.164, e.g. +212600000101
    category: Mapped[str] = mapped_column(String(32))
    registered_on: Mapped[date] = mapped_column(Date)
    penalties_due_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    next_deadline_date: Mapped[date | None] = mapped_column(Date)
    next_deadline_cents: Mapped[int | None] = mapped_column(BigInteger)
    health_rights_open: Mapped[bool]
    health_rights_since: Mapped[date | None] = mapped_column(Date)
    health_rights_reason: Mapped[str | None] = mapped_column(String(32))

    contributions_due: Mapped[list[ContributionDue]] = relationship(
        back_populates="affiliate", cascade="all, delete-orphan", order_by="ContributionDue.period")
    payments: Mapped[list[Payment]] = relationship(
        back_populates="affiliate", cascade="all, delete-orphan", order_by="Payment.paid_on")
    instalment_plan: Mapped[InstalmentPlan | None] = relationship(
        back_populates="affiliate", cascade="all, delete-orphan")


class ContributionDue(Base):
    __tablename__ = "contributions_due"
    __table_args__ = (UniqueConstraint("affiliate_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))  # "2026-09" (monthly) or "2025" (annual)
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    affiliate: Mapped[Affiliate] = relationship(back_populates="contributions_due")


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    affiliate: Mapped[Affiliate] = relationship(back_populates="payments")


class InstalmentPlan(Base):
    __tablename__ = "instalment_plans"

    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"),
                                              primary_key=True)
    instalments_left: Mapped[int] = mapped_column(Integer)
    next_instalment_date: Mapped[date] = mapped_column(Date)
    instalment_cents: Mapped[int] = mapped_column(BigInteger)

    affiliate: Mapped[Affiliate] = relationship(back_populates="instalment_plan")


class Verification(Base):
    """One identity check and its one-time code challenge."""

    __tablename__ = "verifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"), index=True)
    conversation_key: Mapped[str] = mapped_column(HASH)  # HMAC of the conversation id (a lock key)
    code_hash: Mapped[str] = mapped_column(HASH)
    status: Mapped[str] = mapped_column(String(16))  # pending, confirmed, superseded, burnt
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerificationToken(Base):
    __tablename__ = "verification_tokens"

    token_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FailedAttempt(Base):
    """One failed verification attempt counted against a lock key (affiliate number or conversation)."""

    __tablename__ = "failed_attempts"
    __table_args__ = (Index("ix_failed_attempts_key_hash_failed_at", "key_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(HASH)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lock(Base):
    __tablename__ = "locks"

    key_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)


class CodeSend(Base):
    """One one-time code sent by SMS, under one of its two limit keys (backend/app/sms_limits.py)."""

    __tablename__ = "code_sends"
    __table_args__ = (Index("ix_code_sends_key_hash_sent_at", "key_hash", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(HASH)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
