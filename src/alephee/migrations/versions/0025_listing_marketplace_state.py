"""listings: the item as the marketplace last showed it (``marketplace_state``)

Revision ID: 0025_listing_marketplace_state
Revises: 0021_product_listing_data
Create Date: 2026-12-04 22:30:00

One nullable JSON column on ``listings``: nothing to backfill (a listing without it is read from the
marketplace before its next push, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_listing_marketplace_state"
down_revision: str | Sequence[str] | None = "0021_product_listing_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketplace_state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("marketplace_state")
