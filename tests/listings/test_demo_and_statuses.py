"""The demo publishes its catalog on the demo marketplaces; the status table can be renumbered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alephee.config import Settings
from alephee.demo import ensure_demo
from alephee.http.context import AppContext
from alephee.listings import statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.products.models import KitComponent, Product


def test_demo_catalog_and_listings(ctx: AppContext) -> None:
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, ctx.settings).account_id
    with ctx.db.writing() as session:
        ensure_demo(session, ctx.settings)  # idempotent
    with ctx.db.reading() as session:
        types = dict(
            session.execute(
                select(Product.product_type, func.count())
                .where(Product.account_id == account_id)
                .group_by(Product.product_type)
            ).all()
        )
        assert sum(types.values()) >= 300 and types[2] >= 20 and types[5] >= 50 and types[6] >= 10
        assert session.scalar(select(func.count()).select_from(KitComponent)) >= 40
        per_marketplace = dict(
            session.execute(
                select(Listing.marketplace_id, func.count())
                .where(Listing.account_id == account_id, Listing.parent_id.is_(None))
                .group_by(Listing.marketplace_id)
            ).all()
        )
        assert set(per_marketplace) == {1, 40, 100, 101, 102} and per_marketplace[100] > 200
        # Mercado Libre Argentina (simple products and a variation master) and Tiendanube on the local
        # stand-ins: part of the catalog, waiting for ids.
        assert per_marketplace[1] == 40 + 1 and per_marketplace[40] == 20
        statuses_seen = set(session.scalars(select(Listing.status).where(Listing.account_id == account_id)))
        assert {"active", "paused"} <= statuses_seen
        assert session.scalar(select(func.count()).select_from(ListingDiscount)) == 1


def test_status_codes_can_be_renumbered() -> None:
    default = statuses.table(Settings(_env_file=None))  # type: ignore[call-arg]
    assert [default.code(n) for n in ("active", "paused", "finished", "under_review", "inactive")] == [1, 2, 3, 4, 5]
    custom = statuses.table(Settings(_env_file=None, listing_status_codes={"active": 10, "Paused": 20}))  # type: ignore[call-arg]
    assert (custom.code("active"), custom.code("paused"), custom.from_code(10), custom.from_code(1)) == (
        10,
        20,
        "active",
        None,
    )
    with pytest.raises(ValueError):
        statuses.table(Settings(_env_file=None, listing_status_codes={"active": 2}))  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        statuses.table(Settings(_env_file=None, listing_status_codes={"sold": 9}))  # type: ignore[call-arg]
