"""orders: covering index of the late-cancellation cycle

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-26 22:40:00

The status/date index gains ``payment_pending`` (and ``id`` as an included column on PostgreSQL) so the total
and the page ids of ``statusType=99&statusDateFrom=...`` are answered from the index alone. The new index is
built before the old one is dropped; on a large PostgreSQL table create it CONCURRENTLY by hand first
(docs/operations.md, Deploying and migrating): this migration then only drops the old one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = "ix_orders_status_type_date_pending"
OLD = "ix_orders_status_type_date"


def _indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("orders")}


def upgrade() -> None:
    if NEW not in _indexes():
        op.create_index(
            NEW,
            "orders",
            ["account_id", "status_type", "status_date", "payment_pending"],
            unique=False,
            postgresql_include=["id"],
        )
    if OLD in _indexes():
        op.drop_index(OLD, table_name="orders")


def downgrade() -> None:
    op.create_index(OLD, "orders", ["account_id", "status_type", "status_date"], unique=False)
    op.drop_index(NEW, table_name="orders")
