"""listing_kept_states: the item as the marketplace last showed it, out of the listings row

Revision ID: 0031a_listing_kept_states
Revises: 0030r_read_serials
Create Date: 2026-12-05 04:30:00

One row per listing (``listing_id``, the copy's ``version`` as text compared byte by byte, the ``state``): keeping
a push's answer or a notification's read no longer writes the listing row. Every non-empty
``listings.marketplace_state`` moves over with the version it carries, then the column is dropped (a plain
``DROP COLUMN``, also on SQLite: recreating ``listings`` would cascade into the tables that reference it).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import alephee.db

revision: str = "0031a_listing_kept_states"
down_revision: str | Sequence[str] | None = "0030r_read_serials"
branch_labels: str | Sequence[str] | None = None
# The column it moves comes from another branch of the history.
depends_on: str | Sequence[str] | None = "0025_listing_marketplace_state"

# The key of a kept state that holds its version (``listings.marketplace_state.STATE_VERSION``, as of this revision).
VERSION_KEY = "version"
CHUNK = 1000


def _state_type() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _version_type() -> Any:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    kept = op.create_table(
        "listing_kept_states",
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("version", _version_type(), nullable=False),
        sa.Column("state", _state_type(), nullable=False),
        sa.Column("updated_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["listing_id"], ["listings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    assert kept is not None
    listings = sa.table("listings", sa.column("id", sa.Integer()), sa.column("marketplace_state", sa.JSON()))
    bind = op.get_bind()
    moved_at = datetime.now(UTC)
    last = 0
    while True:
        rows = bind.execute(
            sa.select(listings.c.id, listings.c.marketplace_state)
            .where(listings.c.id > last, listings.c.marketplace_state.is_not(None))
            .order_by(listings.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        values = [
            {
                "listing_id": row.id,
                "version": str(row.marketplace_state.get(VERSION_KEY) or ""),
                "state": row.marketplace_state,
                "updated_at": moved_at,
            }
            for row in rows
            if isinstance(row.marketplace_state, dict) and row.marketplace_state
        ]
        if values:
            bind.execute(kept.insert(), values)
    op.drop_column("listings", "marketplace_state")


def downgrade() -> None:
    op.add_column("listings", sa.Column("marketplace_state", sa.JSON(), nullable=True))
    listings = sa.table("listings", sa.column("id", sa.Integer()), sa.column("marketplace_state", sa.JSON()))
    kept = sa.table("listing_kept_states", sa.column("listing_id", sa.Integer()), sa.column("state", _state_type()))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(kept.c.listing_id, kept.c.state)
            .where(kept.c.listing_id > last)
            .order_by(kept.c.listing_id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        last = rows[-1].listing_id
        for row in rows:
            bind.execute(listings.update().where(listings.c.id == row.listing_id).values(marketplace_state=row.state))
    op.drop_table("listing_kept_states")
