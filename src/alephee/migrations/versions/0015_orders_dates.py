"""orders: each date filter reads the column its rendered field shows

Revision ID: 0015_orders_dates
Revises: 0014
Create Date: 2026-12-04 12:00:00

``dateCreatedFrom`` now reads ``sale_date`` (what ``DateCreated`` shows; ``ix_orders_sale_date`` serves it) and
``statusDateFrom`` reads ``updated_at`` (what ``LastUpdated`` shows): the late-cancellation index keys on
``updated_at`` instead of ``status_date``, ``ix_orders_updated_at`` replaces ``ix_orders_status_date``, and
``ix_orders_created_at`` (no filter reads ``created_at`` any more) is dropped. Orders whose sale date was after
their arrival in the hub (sandbox sales made on a simulated clock ahead of the real one) get their arrival as
sale date, as new orders do, so no ``DateCreated`` is in the future. The new indexes are built before the old
ones are dropped; on a large PostgreSQL table create them CONCURRENTLY by hand first (docs/operations.md,
Deploying and migrating): this migration then only drops the old ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_orders_dates"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name: (columns, PostgreSQL included columns)
NEW = {
    "ix_orders_status_type_updated_keys": (
        ["account_id", "status_type", "updated_at", "payment_pending", "version"],
        ["id"],
    ),
    "ix_orders_updated_at": (["account_id", "updated_at"], []),
}
OLD = {
    "ix_orders_status_type_date_keys": (
        ["account_id", "status_type", "status_date", "payment_pending", "version", "updated_at"],
        ["id"],
    ),
    "ix_orders_status_date": (["account_id", "status_date"], []),
    "ix_orders_created_at": (["account_id", "created_at"], []),
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
    # A new version, so no process keeps serving a rendering with the old DateCreated.
    op.execute("UPDATE orders SET sale_date = created_at, version = version + 1 WHERE sale_date > created_at")


def downgrade() -> None:
    _swap(OLD, NEW)
