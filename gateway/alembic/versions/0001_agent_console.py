"""The agent console: accounts, sessions, sign-in failures, the append-only audit log, suggestion events.

The audit log refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) through triggers, on
PostgreSQL and on SQLite alike: nobody edits it through the application, and a person with
database access has to drop the trigger first, which `sanad audit verify` then exposes through
the hash chain.

Revision ID: 0001
Revises:
Create Date: 2026-12-10
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "agent_audit is append-only"


def upgrade() -> None:
    op.create_table(
        "agent_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_agent_accounts_name")),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["agent_accounts.id"], ondelete="CASCADE",
                                name=op.f("fk_agent_sessions_account_id_agent_accounts")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_agent_sessions")),
    )
    op.create_index(op.f("ix_agent_sessions_account_id"), "agent_sessions", ["account_id"])
    op.create_table(
        "agent_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_login_failures")),
    )
    op.create_index(op.f("ix_agent_login_failures_key_hash"), "agent_login_failures", ["key_hash"])
    op.create_table(
        "agent_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("masked_number", sa.String(length=32), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("identity_check", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_audit")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_agent_audit_prev_hash")),
    )
    op.create_index(op.f("ix_agent_audit_fund"), "agent_audit", ["fund"])
    op.create_index(op.f("ix_agent_audit_number_hash"), "agent_audit", ["number_hash"])
    op.create_table(
        "agent_assist_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("fund", sa.String(length=16), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_assist_events")),
    )
    op.create_index(op.f("ix_agent_assist_events_fund"), "agent_assist_events", ["fund"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION agent_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("CREATE TRIGGER agent_audit_no_update_delete BEFORE UPDATE OR DELETE ON agent_audit "
                   "FOR EACH ROW EXECUTE FUNCTION agent_audit_append_only()")
        op.execute("CREATE TRIGGER agent_audit_no_truncate BEFORE TRUNCATE ON agent_audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION agent_audit_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER agent_audit_no_{verb.lower()} BEFORE {verb} ON agent_audit "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER agent_audit_no_truncate ON agent_audit")
        op.execute("DROP TRIGGER agent_audit_no_update_delete ON agent_audit")
        op.execute("DROP FUNCTION agent_audit_append_only()")
    for table in ("agent_assist_events", "agent_audit", "agent_login_failures", "agent_sessions",
                  "agent_accounts"):
        op.drop_table(table)
