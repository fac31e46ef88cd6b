"""code_sends: one-time codes sent by SMS, counted by the per-affiliate and per-conversation limits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
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
        "code_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_sends")),
    )
    op.create_index("ix_code_sends_key_hash_sent_at", "code_sends", ["key_hash", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_code_sends_key_hash_sent_at", table_name="code_sends")
    op.drop_table("code_sends")
