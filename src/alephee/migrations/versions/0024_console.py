"""console: operators, the accounts granted to them, and their browser sessions

Revision ID: 0024_console
Revises: 0001
Create Date: 2026-12-04 22:20:00

The first revision of the console's branch (label ``console``). Three new tables, empty at creation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0024_console"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("console",)
depends_on: str | Sequence[str] | None = "0024_audit_operator"


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "operator_accounts",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("operator_id", "account_id"),
    )
    op.create_index("ix_operator_accounts_account_id", "operator_accounts", ["account_id"], unique=False)
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("flash_level", sa.String(length=10), nullable=True),
        sa.Column("flash_text", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"], unique=False)
    op.create_index("ix_console_sessions_operator_id", "console_sessions", ["operator_id"], unique=False)


def downgrade() -> None:
    op.drop_table("console_sessions")
    op.drop_table("operator_accounts")
    op.drop_table("operators")
