"""orders: the B2B stock each portal order reserved, recorded on the order

Revision ID: 0017_order_b2b_reservations
Revises: 0016_orders_numbers
Create Date: 2026-12-04 16:50:00

One row per order placed on the B2B portal: the units of B2B stock its placement took (product id → units) and
when they were given back (a cancellation gives them back once). Portal orders placed before this revision get
their row from their stored detail (the top-level lines; kit components were never reserved on their own),
unless they are already cancelled (their units were given back then). Idempotent.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0017_order_b2b_reservations"
down_revision: str | Sequence[str] | None = "0016_orders_numbers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# Statuses on the cancellation path (90 Cancelled and what follows it), as they are at this revision.
CANCELLED_PATH = (90, 91, 92, 93)


def upgrade() -> None:
    op.create_table(
        "order_b2b_reservations",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("quantities", sa.JSON(), nullable=False),
        sa.Column("created_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_order_b2b_reservations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_b2b_reservations_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_b2b_reservations")),
    )
    with op.batch_alter_table("order_b2b_reservations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_b2b_reservations_account_id"), ["account_id"], unique=False)
    _backfill()


def _reserved(detail: str) -> dict[str, int]:
    # The rule of the portal at this revision: top-level lines (no ParentItemId), product id → summed units.
    try:
        items = orjson.loads(detail).get("Items") or []
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    out: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("ParentItemId"):
            continue
        product_id = (item.get("Product") or {}).get("Id")
        quantity = item.get("Quantity")
        if (
            isinstance(product_id, int)
            and isinstance(quantity, int)
            and not isinstance(quantity, bool)
            and quantity > 0
        ):
            out[str(product_id)] = out.get(str(product_id), 0) + quantity
    return out


def _backfill() -> None:
    bind = op.get_bind()
    orders = sa.table(
        "orders",
        sa.column("id", sa.BigInteger()),
        sa.column("account_id", sa.Integer()),
        sa.column("origin", sa.String()),
        sa.column("status", sa.SmallInteger()),
        sa.column("detail", sa.Text()),
    )
    reservations = sa.table(
        "order_b2b_reservations",
        sa.column("order_id", sa.BigInteger()),
        sa.column("account_id", sa.Integer()),
        sa.column("quantities", sa.JSON()),
        sa.column("created_at", alephee.db.UtcDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    last = 0
    while True:
        rows = bind.execute(
            sa.select(orders.c.id, orders.c.account_id, orders.c.detail)
            .where(orders.c.origin == "b2b", orders.c.status.not_in(CANCELLED_PATH), orders.c.id > last)
            .order_by(orders.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        known = set(
            bind.execute(
                sa.select(reservations.c.order_id).where(reservations.c.order_id.in_([r[0] for r in rows]))
            ).scalars()
        )
        values: list[dict[str, Any]] = [
            {"order_id": order_id, "account_id": account_id, "quantities": _reserved(detail or ""), "created_at": now}
            for order_id, account_id, detail in rows
            if order_id not in known
        ]
        if values:
            bind.execute(sa.insert(reservations), values)


def downgrade() -> None:
    with op.batch_alter_table("order_b2b_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_b2b_reservations_account_id"))
    op.drop_table("order_b2b_reservations")
