"""Publishing products as listings (operators, demo) and counting their sales (orders)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import AccountMarketplace
from alephee.errors import InvalidInput
from alephee.listings import propagation, statuses
from alephee.listings.models import Listing
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel, shared_channel
from alephee.products.models import Product
from alephee.products.stock import ProductNotFound

# --- publishing (operators, demo) and sales (orders) -------------------------------------------------------


class MarketplaceNotConnected(InvalidInput):
    """The account has not connected the marketplace it publishes on (400)."""

    message = "Marketplace {marketplace} is not connected to account {account}"

    def __init__(self, marketplace_id: int, account_id: int) -> None:
        super().__init__(self.message.format(marketplace=marketplace_id, account=account_id))


ML_DOMAINS = {
    "MLA": "articulo.mercadolibre.com.ar",
    "MLB": "produto.mercadolivre.com.br",
    "MLC": "articulo.mercadolibre.cl",
    "MLM": "articulo.mercadolibre.com.mx",
    "MCO": "articulo.mercadolibre.com.co",
    "MPE": "articulo.mercadolibre.com.pe",
    "MLU": "articulo.mercadolibre.com.uy",
    "MEC": "articulo.mercadolibre.com.ec",
}
# The external id of a listing until its marketplace gives it one (marketplaces that assign their own ids).
PENDING_PREFIX = "pending-"
# External ids of generated listings: MLA + 10 digits (like MLA1135267969).
EXTERNAL_BASE = 1_135_000_000


def _marketplace_assigns_ids(marketplace: Marketplace) -> bool:
    """Whether the marketplace's connector gives new listings their id (then the hub must not invent one)."""
    if not has_channel(marketplace.connector):
        return False
    return bool(getattr(shared_channel(marketplace.connector), "assigns_listing_ids", False))


def external_identity(marketplace: Marketplace, listing_id: int) -> tuple[str, str | None]:
    """A marketplace-looking external id and permanent link for a listing the hub publishes."""
    if marketplace.family == propagation.ML_FAMILY and marketplace.site_id:
        number = EXTERNAL_BASE + listing_id
        domain = ML_DOMAINS.get(marketplace.site_id, "articulo.mercadolibre.com.ar")
        return f"{marketplace.site_id}{number}", f"https://{domain}/{marketplace.site_id}-{number}"
    if marketplace.family == "amazon":
        asin = f"B0{listing_id:08d}"
        return asin, f"https://www.amazon.com/dp/{asin}"
    return f"{marketplace.id}-{listing_id}", None


@dataclass(frozen=True, slots=True)
class PublishSpec:
    """One listing to create (see ``publish_products``)."""

    product_id: int
    marketplace_id: int
    title: str | None = None
    listing_type: int | None = None
    category: tuple[str, str] | None = None
    price_list_id: int | None = None
    margin: Decimal | None = None
    added_fixed_value: Decimal | None = None
    parent_id: int | None = None
    child_kind: str | None = None
    sold_quantity: int = 0
    visits: int | None = None
    health: Decimal | None = None
    created_at: datetime | None = None


def publish_product(session: Session, account_id: int, product_id: int, marketplace_id: int, **kwargs: Any) -> Listing:
    """Publish one catalog product on a connected marketplace (see ``publish_products``)."""
    return publish_products(session, account_id, [PublishSpec(product_id, marketplace_id, **kwargs)])[0]


def publish_products(session: Session, account_id: int, specs: Sequence[PublishSpec]) -> list[Listing]:
    """Publish catalog products on connected marketplaces (the API has no create call: operators and the demo
    use this). Price and quantity follow the catalog; a listing starts paused when its product has no price
    in the listing's price list (reason ``no_price``) or nothing to publish (``stock``), and is activated when
    that changes. Each new listing gets a ``listing.update`` outbox row. Does not commit."""
    if not specs:
        return []
    product_ids = sorted({spec.product_id for spec in specs})
    found = {
        row[0]: row
        for row in session.execute(
            select(Product.id, Product.sku, Product.name, Product.own_code).where(
                Product.id.in_(product_ids), Product.account_id == account_id
            )
        )
    }
    connected = set(
        session.scalars(select(AccountMarketplace.marketplace_id).where(AccountMarketplace.account_id == account_id))
    )
    marketplaces = {m.id: m for m in session.scalars(select(Marketplace).where(Marketplace.id.in_(connected)))}
    now = clock.utcnow()
    listings: list[Listing] = []
    for spec in specs:
        product = found.get(spec.product_id)
        if product is None:
            raise ProductNotFound(spec.product_id, account_id)
        marketplace = marketplaces.get(spec.marketplace_id)
        if marketplace is None:
            raise MarketplaceNotConnected(spec.marketplace_id, account_id)
        ml = marketplace.family == propagation.ML_FAMILY
        category = spec.category or ((f"{marketplace.site_id}3530", "Otros") if ml else None)
        created = spec.created_at or now
        listing = Listing(
            account_id=account_id,
            marketplace_id=marketplace.id,
            product_id=product.id,
            parent_id=spec.parent_id,
            child_kind=spec.child_kind,
            external_id=f"{PENDING_PREFIX}{uuid.uuid4().hex}",
            title=(spec.title or product.name)[:300],
            sku=product.sku,
            seller_sku=product.own_code,
            price_list_id=spec.price_list_id,
            # Set by the first refresh from the catalog; without a catalog price it stays unset and the listing
            # starts paused (no_price): a placeholder price would be sold.
            price=None,
            price_mode="auto",
            margin=spec.margin,
            added_fixed_value=spec.added_fixed_value,
            available_quantity=0,
            sold_quantity=spec.sold_quantity,
            visits=spec.visits,
            health=spec.health if ml else None,
            status=statuses.ACTIVE,
            status_reason=None,
            status_updated_at=created,
            category_id=category[0] if category else None,
            category_name=category[1] if category else None,
            listing_type=(spec.listing_type if spec.listing_type is not None else 3) if ml else None,
            deals=[],
            created_at=created,
            updated_at=created,
        )
        session.add(listing)
        listings.append(listing)
    session.flush()
    for listing in listings:
        marketplace = marketplaces[listing.marketplace_id]
        if not _marketplace_assigns_ids(marketplace):
            listing.external_id, listing.permanent_link = external_identity(marketplace, listing.id)
    # The first refresh sets price, quantity and a stock pause and enqueues those rows; the others still
    # need one row so the marketplace learns about the listing.
    changed = propagation.refresh(session, account_id, listings, now, new=True)
    for listing in listings:
        if listing.id not in changed:
            propagation.publish_change(session, listing, ["Published"])
    session.flush()
    return listings


PUBLISHABLE_TYPES = (1, 2, 6)


def publish_catalog(session: Session, account_id: int, marketplace_id: int, *, skus: Sequence[str] = ()) -> list[int]:
    """Publish every product (normal, kit, variation master) not yet listed on ``marketplace_id`` — or only
    ``skus`` (variations included when named). Returns the new listing ids."""
    listed = set(
        session.scalars(
            select(Listing.product_id).where(
                Listing.account_id == account_id, Listing.marketplace_id == marketplace_id, Listing.parent_id.is_(None)
            )
        )
    )
    stmt = select(Product.id).where(Product.account_id == account_id)
    stmt = stmt.where(Product.sku.in_(list(skus))) if skus else stmt.where(Product.product_type.in_(PUBLISHABLE_TYPES))
    ids = [pid for pid in session.scalars(stmt.order_by(Product.id)) if pid not in listed]
    created = publish_products(session, account_id, [PublishSpec(pid, marketplace_id) for pid in ids])
    return [listing.id for listing in created]


def record_marketplace_id(
    session: Session, account_id: int, listing_id: int, external_id: str, permalink: str | None
) -> None:
    """Store the id (and page) a marketplace gave a listing when it first accepted it; a listing keeps its id
    once it has one from the marketplace."""
    listing = session.get(Listing, listing_id)
    if listing is None or listing.account_id != account_id or listing.external_id == external_id:
        return
    if not listing.external_id.startswith(PENDING_PREFIX):
        return
    listing.external_id = external_id
    if permalink:
        listing.permanent_link = permalink
    listing.updated_at = clock.utcnow()


def add_sold_quantity(session: Session, listing_id: int, quantity: int) -> None:
    """Count units sold through a listing (orders call it; an atomic increment)."""
    session.execute(
        update(Listing).where(Listing.id == listing_id).values(sold_quantity=Listing.sold_quantity + quantity)
    )
