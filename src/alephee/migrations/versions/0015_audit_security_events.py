"""accounts: audit log keeps security events and the query identifiers

Revision ID: 0015_audit_events
Revises: 0001
Create Date: 2026-12-01 10:00:00

``event`` names a security event (a valid key asking for an account it does not serve), ``query`` the query
string without the key (identifiers with their values). Both are new nullable/defaulted columns: old and new
processes can run side by side.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_audit_events"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("query", sa.String(length=500), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("query")
        batch_op.drop_column("event")
