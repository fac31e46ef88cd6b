"""Initial schema: affiliates and their balances; verifications, tokens, failed attempts, locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# backend.app.db.base.UTCDateTime stores naive UTC timestamps: a plain DateTime column.
UTC_DATETIME = sa.DateTime()
HASH = sa.String(length=64)


def _affiliate_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["affiliate_id"], ["affiliates.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_affiliate_id_affiliates"))


def upgrade() -> None:
    op.create_table(
        "affiliates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("penalties_due_cents", sa.BigInteger(), nullable=False),
        sa.Column("next_deadline_date", sa.Date(), nullable=True),
        sa.Column("next_deadline_cents", sa.BigInteger(), nullable=True),
        sa.Column("health_rights_open", sa.Boolean(), nullable=False),
        sa.Column("health_rights_since", sa.Date(), nullable=True),
        sa.Column("health_rights_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliates")),
        sa.UniqueConstraint("fund", "number", name=op.f("uq_affiliates_fund_number")),
    )
    op.create_table(
        "contributions_due",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        _affiliate_fk("contributions_due"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions_due")),
        sa.UniqueConstraint("affiliate_id", "period", name=op.f("uq_contributions_due_affiliate_id_period")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        _affiliate_fk("payments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_affiliate_id"), "payments", ["affiliate_id"])
    op.create_table(
        "instalment_plans",
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("instalments_left", sa.Integer(), nullable=False),
        sa.Column("next_instalment_date", sa.Date(), nullable=False),
        sa.Column("instalment_cents", sa.BigInteger(), nullable=False),
        _affiliate_fk("instalment_plans"),
        sa.PrimaryKeyConstraint("affiliate_id", name=op.f("pk_instalment_plans")),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("conversation_key", HASH, nullable=False),
        sa.Column("code_hash", HASH, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        _affiliate_fk("verifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index(op.f("ix_verifications_affiliate_id"), "verifications", ["affiliate_id"])
    op.create_table(
        "verification_tokens",
        sa.Column("token_hash", HASH, nullable=False),
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        _affiliate_fk("verification_tokens"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_verification_tokens")),
    )
    op.create_index(op.f("ix_verification_tokens_affiliate_id"), "verification_tokens", ["affiliate_id"])
    op.create_table(
        "failed_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", HASH, nullable=False),
        sa.Column("failed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_attempts")),
    )
    op.create_index("ix_failed_attempts_key_hash_failed_at", "failed_attempts", ["key_hash", "failed_at"])
    op.create_table(
        "locks",
        sa.Column("key_hash", HASH, nullable=False),
        sa.Column("locked_until", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_locks")),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_index("ix_failed_attempts_key_hash_failed_at", table_name="failed_attempts")
    op.drop_table("failed_attempts")
    op.drop_index(op.f("ix_verification_tokens_affiliate_id"), table_name="verification_tokens")
    op.drop_table("verification_tokens")
    op.drop_index(op.f("ix_verifications_affiliate_id"), table_name="verifications")
    op.drop_table("verifications")
    op.drop_table("instalment_plans")
    op.drop_index(op.f("ix_payments_affiliate_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_table("contributions_due")
    op.drop_table("affiliates")
