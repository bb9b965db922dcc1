"""channel_connections: when the backstop last searched the channel's buyers' questions and claims

Revision ID: 0032m_post_sale_checked
Revises: 0031e_questions_claims
Create Date: 2026-12-05 05:50:00

One nullable column: nothing to backfill (a connection never searched is searched after its next pull).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0032m_post_sale_checked"
down_revision: str | Sequence[str] | None = "0031e_questions_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("post_sale_checked_at", alephee.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_column("post_sale_checked_at")
