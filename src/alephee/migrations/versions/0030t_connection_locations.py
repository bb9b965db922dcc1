"""channel_connections: the store's stock locations, the one the hub's stock goes to, and when the webhooks were
last reconciled

Revision ID: 0030t_connection_locations
Revises: 0026_oauth_return_to
Create Date: 2026-12-05 01:30:00

Three nullable columns: nothing to backfill (a connection without locations writes stock without a location, as
before, until its next connect or resync reads them; one never reconciled is reconciled on the next pull).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0030t_connection_locations"
down_revision: str | Sequence[str] | None = "0026_oauth_return_to"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locations", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("stock_location", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("webhooks_checked_at", alephee.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_column("webhooks_checked_at")
        batch_op.drop_column("stock_location")
        batch_op.drop_column("locations")
