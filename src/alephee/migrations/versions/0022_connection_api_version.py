"""channels: the API version a connection's store answers on (Tiendanube keeps one per store)

Revision ID: 0022_connection_api_version
Revises: 0020_order_message_external_ids
Create Date: 2026-12-04 22:20:00

One nullable column on ``channel_connections`` (``api_version``; None = the connector's configured version, which
every existing Mercado Libre connection keeps): nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_connection_api_version"
down_revision: str | Sequence[str] | None = "0020_order_message_external_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_version", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_column("api_version")
