"""Live handoff: the conversations handed to a fund's agents and their masked transcripts.

At most one open (waiting or claimed) handoff per conversation, by a partial unique index
(SQLite and PostgreSQL both have them): opening one twice at once leaves one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-14
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('waiting', 'claimed')")


def upgrade() -> None:
    op.create_table(
        "agent_handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("first_reply_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("citizen_left_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent_accounts.id"], ondelete="SET NULL",
                                name=op.f("fk_agent_handoffs_agent_id_agent_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_handoffs")),
    )
    op.create_index(op.f("ix_agent_handoffs_fund"), "agent_handoffs", ["fund"])
    op.create_index(op.f("ix_agent_handoffs_status"), "agent_handoffs", ["status"])
    op.create_index(op.f("ix_agent_handoffs_conversation_id"), "agent_handoffs", ["conversation_id"])
    op.create_index("uq_agent_handoffs_open_conversation", "agent_handoffs", ["channel", "conversation_id"],
                    unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_table(
        "agent_handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["agent_handoffs.id"], ondelete="CASCADE",
                                name=op.f("fk_agent_handoff_messages_handoff_id_agent_handoffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_handoff_messages")),
    )
    op.create_index(op.f("ix_agent_handoff_messages_handoff_id"), "agent_handoff_messages", ["handoff_id"])


def downgrade() -> None:
    op.drop_table("agent_handoff_messages")
    op.drop_index("uq_agent_handoffs_open_conversation", table_name="agent_handoffs")
    op.drop_table("agent_handoffs")
