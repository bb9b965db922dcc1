"""orders: the integration-cycle indexes carry each order's version

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 01:00:00

Both cycle indexes gain ``version, updated_at`` (the key of a cached rendering): a page of either cycle is then
answered from the index alone, total, ids and versions, without reading one wide order row. The new indexes are
built before the old ones are dropped; on a large PostgreSQL table create them CONCURRENTLY by hand first
(docs/operations.md, Deploying and migrating): this migration then only drops the old ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ["version", "updated_at"]
# name: (columns, PostgreSQL included columns)
NEW = {
    "ix_orders_integration_keys": (["account_id", "integrated", "payment_pending", "id", "status", *KEYS], []),
    "ix_orders_status_type_date_keys": (["account_id", "status_type", "status_date", "payment_pending", *KEYS], ["id"]),
}
OLD = {
    "ix_orders_integration_queue": (["account_id", "integrated", "payment_pending", "id", "status"], []),
    "ix_orders_status_type_date_pending": (["account_id", "status_type", "status_date", "payment_pending"], ["id"]),
}


def _indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("orders")}


def _swap(create: dict[str, tuple[list[str], list[str]]], drop: dict[str, tuple[list[str], list[str]]]) -> None:
    for name, (columns, include) in create.items():
        if name not in _indexes():
            op.create_index(name, "orders", columns, unique=False, postgresql_include=include)
    for name in drop:
        if name in _indexes():
            op.drop_index(name, table_name="orders")


def upgrade() -> None:
    _swap(NEW, OLD)


def downgrade() -> None:
    _swap(OLD, NEW)
