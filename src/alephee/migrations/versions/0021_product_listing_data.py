"""products: what a marketplace listing shows of a product (pictures, description, category, condition)

Revision ID: 0021_product_listing_data
Revises: 0015_listing_price
Create Date: 2026-12-04 20:45:00

Four nullable columns on ``products``: nothing to backfill (a product without them publishes where the
marketplace does not need them, and says what is missing where it does).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_product_listing_data"
down_revision: str | Sequence[str] | None = "0015_listing_price"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pictures", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("condition", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("condition")
        batch_op.drop_column("category")
        batch_op.drop_column("description")
        batch_op.drop_column("pictures")
