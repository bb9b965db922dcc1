"""channels: where an authorization attempt started from a page of the hub sends the seller back

Revision ID: 0026_oauth_return_to
Revises: 0022_connection_api_version
Create Date: 2026-12-04 22:30:00

One nullable column on ``channel_oauth_states`` (``return_to``, null = the callback's own page): nothing to
backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_oauth_return_to"
down_revision: str | Sequence[str] | None = "0022_connection_api_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("return_to", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_oauth_states", schema=None) as batch_op:
        batch_op.drop_column("return_to")
