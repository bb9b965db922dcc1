"""listings: no price until the catalog gives one; unpriced listings paused

Revision ID: 0015_listing_price
Revises: 0003
Create Date: 2026-11-28 10:00:00

``listings.price`` becomes nullable: a listing whose product has no price in its price list has no price (it
used to get a 0.01 placeholder and be published active, i.e. sold for nothing). Existing active listings in
that state (automatic price, no catalog price in the listing's price list, or in the account's default list
when the listing names none) are paused with reason ``no_price``, their 0.01 placeholder is cleared, and one
``listing.status`` outbox row per listing tells the marketplace. The hub reactivates them when a price arrives.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0015_listing_price"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACEHOLDER = Decimal("0.01")
CHUNK = 500

listings = sa.table(
    "listings",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("marketplace_id", sa.Integer()),
    sa.column("product_id", sa.Integer()),
    sa.column("price_list_id", sa.Integer()),
    sa.column("external_id", sa.String()),
    sa.column("price", alephee.db.Money(precision=18, scale=4)),
    sa.column("price_mode", sa.String()),
    sa.column("status", sa.String()),
    sa.column("status_reason", sa.String()),
    sa.column("status_updated_at", alephee.db.UtcDateTime(timezone=True)),
    sa.column("updated_at", alephee.db.UtcDateTime(timezone=True)),
)
price_lists = sa.table(
    "price_lists", sa.column("id", sa.Integer()), sa.column("account_id", sa.Integer()), sa.column("is_default")
)
product_prices = sa.table(
    "product_prices",
    sa.column("product_id", sa.Integer()),
    sa.column("price_list_id", sa.Integer()),
    sa.column("price_with_taxes", alephee.db.Money(precision=18, scale=4)),
)
outbox = sa.table(
    "outbox",
    sa.column("account_id", sa.Integer()),
    sa.column("marketplace_id", sa.Integer()),
    sa.column("topic", sa.String()),
    sa.column("aggregate_type", sa.String()),
    sa.column("aggregate_id", sa.Integer()),
    sa.column("payload", sa.JSON()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("available_at", alephee.db.UtcDateTime(timezone=True)),
    sa.column("created_at", alephee.db.UtcDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.alter_column("price", existing_type=alephee.db.Money(precision=18, scale=4), nullable=True)
    _pause_unpriced()


def _pause_unpriced() -> None:
    bind = op.get_bind()
    default_list = (
        sa.select(price_lists.c.id)
        .where(price_lists.c.account_id == listings.c.account_id)
        .order_by(price_lists.c.is_default.desc(), price_lists.c.id)
        .limit(1)
        .scalar_subquery()
    )
    priced = (
        sa.select(sa.literal(1))
        .where(
            product_prices.c.product_id == listings.c.product_id,
            product_prices.c.price_with_taxes.is_not(None),
            product_prices.c.price_list_id == sa.func.coalesce(listings.c.price_list_id, default_list),
        )
        .exists()
    )
    rows = bind.execute(
        sa.select(
            listings.c.id, listings.c.account_id, listings.c.marketplace_id, listings.c.external_id, listings.c.price
        )
        .where(listings.c.status == "active", listings.c.price_mode == "auto", ~priced)
        .order_by(listings.c.id)
    ).all()
    now = datetime.now(UTC).replace(microsecond=0)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        values = {"status": "paused", "status_reason": "no_price", "status_updated_at": now, "updated_at": now}
        ids = [r.id for r in chunk]
        bind.execute(sa.update(listings).where(listings.c.id.in_(ids)).values(**values))
        placeholders = [r.id for r in chunk if r.price == PLACEHOLDER]
        if placeholders:
            bind.execute(sa.update(listings).where(listings.c.id.in_(placeholders)).values(price=None))
        op.bulk_insert(
            outbox,
            [
                {
                    "account_id": r.account_id,
                    "marketplace_id": r.marketplace_id,
                    "topic": "listing.status",
                    "aggregate_type": "listing",
                    "aggregate_id": r.id,
                    "payload": {
                        "listing_id": r.id,
                        "external_id": r.external_id,
                        "status": "paused",
                        "status_reason": "no_price",
                    },
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                }
                for r in chunk
            ],
        )


def downgrade() -> None:
    # The previous revision cannot hold a listing without a price: give those the old placeholder (they are
    # paused, so it is never sold).
    bind = op.get_bind()
    bind.execute(sa.update(listings).where(listings.c.price.is_(None)).values(price=PLACEHOLDER))
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.alter_column("price", existing_type=alephee.db.Money(precision=18, scale=4), nullable=False)
