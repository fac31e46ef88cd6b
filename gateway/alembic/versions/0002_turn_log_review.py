"""The turn log (one row per citizen turn, for the dashboard and the review loop) and the review
decisions supervisors take on groups of declined or unsettled messages.

No raw citizen text is stored: only declined or unsettled turns keep their text, masked with
bot.masking.mask_text; conversation ids are keyed hashes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-14
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("supervisor", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_review_decisions")),
    )
    op.create_index(op.f("ix_agent_review_decisions_fund"), "agent_review_decisions", ["fund"])
    op.create_table(
        "agent_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("conversation_hash", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("script", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("settled", sa.Boolean(), nullable=True),
        sa.Column("masked_text", sa.Text(), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["agent_review_decisions.id"], ondelete="SET NULL",
                                name=op.f("fk_agent_turns_review_id_agent_review_decisions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_turns")),
    )
    op.create_index(op.f("ix_agent_turns_at"), "agent_turns", ["at"])
    op.create_index(op.f("ix_agent_turns_fund"), "agent_turns", ["fund"])
    op.create_index(op.f("ix_agent_turns_conversation_hash"), "agent_turns", ["conversation_hash"])
    op.create_index(op.f("ix_agent_turns_review_id"), "agent_turns", ["review_id"])


def downgrade() -> None:
    op.drop_table("agent_turns")
    op.drop_table("agent_review_decisions")
