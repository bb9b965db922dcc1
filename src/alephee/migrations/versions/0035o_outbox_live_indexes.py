"""outbox: partial indexes over the rows a worker has yet to finish (pending or in flight)

Revision ID: 0035o_outbox_live_indexes
Revises: 0034v_queue_autovacuum
Create Date: 2026-12-05 20:00:00

A worker's claim takes the due rows in id order, each only when no older row of its aggregate is still pending or
in flight. The outbox keeps its delivered rows (millions on a busy hub: a listing's coalesced pushes are delivered
rows too), and the only indexes the claim could use held them all: it walked the delivered history from the first
id, and its probe for an older row of the same listing read every delivered row of that listing. Both indexes
here hold only the live rows (``status IN ('pending', 'in_flight')``, on PostgreSQL and SQLite alike): the claim
reads them, the delivered rows are left out. Writing a row costs two more index entries while it is live, none
once it is delivered.

On a large PostgreSQL outbox create them CONCURRENTLY by hand first (docs/operations.md, "Deploying and
migrating"): this migration then skips them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035o_outbox_live_indexes"
down_revision: str | Sequence[str] | None = "0034v_queue_autovacuum"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('pending', 'in_flight')"
# name: columns
INDEXES = {
    "ix_outbox_live_id": ["id"],
    "ix_outbox_live_aggregate": ["aggregate_type", "aggregate_id", "id"],
}


def upgrade() -> None:
    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("outbox")}
    for name, columns in INDEXES.items():
        if name not in existing:
            op.create_index(
                name, "outbox", columns, unique=False, postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE)
            )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="outbox")
