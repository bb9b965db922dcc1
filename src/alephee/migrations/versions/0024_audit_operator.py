"""accounts: the audit log names the console operator of an action or a sign-in attempt

Revision ID: 0024_audit_operator
Revises: 0015_audit_events
Create Date: 2026-12-04 22:20:00

``operator_id`` is a new nullable column (old and new processes can run side by side), indexed with ``id`` for
the console's "who" filter.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_audit_operator"
down_revision: str | Sequence[str] | None = "0015_audit_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_audit_log_operator_id_id", ["operator_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_operator_id_id")
        batch_op.drop_column("operator_id")
