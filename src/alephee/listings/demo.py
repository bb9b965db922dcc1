"""Demo listings: the demo catalog published on the demo marketplaces (the sandbox Mercado Libre sites 100
MLA, 101 MLC and 102 MLB), with some sales, a listing paused by the user, child listings and a discount."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import AccountMarketplace
from alephee.config import Settings
from alephee.listings import statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.listings.publish import PUBLISHABLE_TYPES, PublishSpec, publish_products
from alephee.products.models import Product

# Marketplace → how many products go there (None = all).
DEMO_PUBLICATIONS: list[tuple[int, int | None]] = [(100, None), (101, 60), (102, 30)]


def create_demo_listings(session: Session, settings: Settings, account_id: int) -> None:
    """Demo step: publish the catalog unless the account already has listings."""
    if session.scalar(select(func.count()).select_from(Listing).where(Listing.account_id == account_id)):
        return
    connected = set(
        session.scalars(select(AccountMarketplace.marketplace_id).where(AccountMarketplace.account_id == account_id))
    )
    product_ids = list(
        session.scalars(
            select(Product.id)
            .where(Product.account_id == account_id, Product.product_type.in_(PUBLISHABLE_TYPES))
            .order_by(Product.id)
        )
    )
    rng = random.Random(7)
    now = clock.utcnow()
    specs: list[PublishSpec] = []
    for marketplace_id, count in DEMO_PUBLICATIONS:
        if marketplace_id not in connected:
            continue
        for product_id in product_ids[:count] if count is not None else product_ids:
            specs.append(
                PublishSpec(
                    product_id,
                    marketplace_id,
                    listing_type=rng.choice([1, 2, 3, 3, 3, 4]),
                    sold_quantity=rng.choice([0, 0, 1, 3, 7, 15, 42]),
                    visits=rng.randint(0, 900),
                    health=Decimal(rng.randint(55, 100)),
                    created_at=now - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440)),
                )
            )
    listings = publish_products(session, account_id, specs)
    standard = [listing for listing in listings if listing.marketplace_id == 100]
    if not standard:
        return
    # Child listings (vehicle compatibilities) under two sandbox listings.
    children = [
        PublishSpec(
            parent.product_id, 100, parent_id=parent.id, child_kind="compatibility", title=f"{parent.title} {n}"
        )
        for parent in standard[:2]
        for n in ("(compatible Gol)", "(compatible Corsa)")
    ]
    publish_products(session, account_id, children)
    # One listing paused by the user (stays paused when stock comes back) and one discount running now.
    active = [listing for listing in standard if listing.status == statuses.ACTIVE]
    if active:
        paused = active[-1]
        paused.status, paused.status_reason, paused.status_updated_at = statuses.PAUSED, statuses.REASON_USER, now
        session.add(
            ListingDiscount(
                listing_id=active[0].id,
                percent=Decimal(15),
                start_at=now - timedelta(days=1),
                finish_at=now + timedelta(days=5),
                created_at=now,
            )
        )
    session.flush()
