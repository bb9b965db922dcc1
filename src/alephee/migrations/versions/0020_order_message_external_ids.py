"""orders: the marketplace's id of a conversation message, so a message read twice is stored once

Revision ID: 0020_order_message_external_ids
Revises: 0019_channel_inbox
Create Date: 2026-12-04 19:40:00

One nullable column on ``order_messages`` (``external_id``; existing rows keep None) and a unique index on
``(order_id, external_id)`` (rows without an external id never collide): nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_order_message_external_ids"
down_revision: str | Sequence[str] | None = "0019_channel_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ux_order_messages_external", ["order_id", "external_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("order_messages", schema=None) as batch_op:
        batch_op.drop_index("ux_order_messages_external")
        batch_op.drop_column("external_id")
