"""What the Mercado Libre channel reads from the hub before calling Mercado Libre (each read in a short
transaction of its own): the connection's seller, a listing with its product, variations and category, an
order's marketplace ids and buyer."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre.calls import Seller, normalised_title, seller_from
from alephee.channels.models import ChannelCategoryMapping
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.listings.statuses import (
    PAUSED,
    REASON_STOCK,
)
from alephee.listings.variations import VARIATION_KIND, VariationFacts, listing_variations
from alephee.marketplaces.contract import (
    ChannelContext,
    OrderRef,
    PermanentDeliveryError,
)
from alephee.orders.models import Order
from alephee.products.models import Brand, Product

MAX_TITLE_LENGTH = 60
PREDICTED_PREFIX = "title:"


# --- what the database says -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """A child listing standing for one variation of the item; in the User Products model (``item_id`` set,
    ``variation_id`` 0) the variation is an item of its own."""

    variation_id: int
    quantity: int
    price: Decimal | None
    product_id: int | None = None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListingData:
    """The current state of a listing and its product, read in one short transaction."""

    listing_id: int
    external_id: str
    title: str
    price: Decimal | None
    quantity: int
    status: str
    status_reason: str | None
    listing_type: int | None
    seller_sku: str
    brand: str | None
    gtin: str | None
    pictures: tuple[str, ...]
    description: str | None
    category: str | None
    condition: str | None
    mapped_category: str | None
    predicted_category: str | None
    variants: tuple[Variant, ...]
    # The item as last seen (``Listing.marketplace_state``), or None.
    kept: dict[str, Any] | None = None
    # A variation master's variations, read only for a listing still to be created (published as one item).
    variations: tuple[VariationFacts, ...] = ()

    @property
    def pending(self) -> bool:
        return self.external_id.startswith(PENDING_PREFIX)

    @property
    def user_products(self) -> bool:
        """A family of User Products items: every variation is an item of its own (``Variant.item_id``)."""
        return bool(self.variants) and all(v.item_id for v in self.variants)

    @property
    def publish_quantity(self) -> int:
        return 0 if self.status == PAUSED and self.status_reason == REASON_STOCK else self.quantity


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the hub knows of an order: its marketplace ids and the buyer's id."""

    external_order_id: str
    pack_id: str | None
    external_shipping_id: str | None
    buyer_id: int | None


def seller_of(session: Session, ctx: ChannelContext) -> Seller:
    """The connection's seller (``ConnectionHeld`` when none yet)."""
    return seller_from(connections.find_connection(session, ctx.account_id, ctx.marketplace.id), ctx)


def listing_row(session: Session, ctx: ChannelContext, listing_id: int | None, external_id: str | None) -> Listing:
    row = session.get(Listing, listing_id) if listing_id is not None else None
    if row is None and external_id:
        row = session.scalars(
            select(Listing).where(Listing.marketplace_id == ctx.marketplace.id, Listing.external_id == external_id)
        ).first()
    if row is None or row.account_id != ctx.account_id:
        raise PermanentDeliveryError(f"listing {listing_id or external_id} not found")
    if row.parent_id is not None and row.child_kind == VARIATION_KIND and not is_item_id(row.external_id):
        # A variation is delivered through its item: the parent listing carries every variation (a User
        # Products variation is an item of its own, delivered by itself).
        parent = session.get(Listing, row.parent_id)
        if parent is None:
            raise PermanentDeliveryError(f"listing {row.id} is a variation of a listing that no longer exists")
        return parent
    return row


def is_item_id(external_id: str) -> bool:
    """Whether a variation's child listing holds an item id (User Products model), not a variation id."""
    return not external_id.isdigit() and not external_id.startswith(PENDING_PREFIX)


def mapped_category(session: Session, ctx: ChannelContext, category: str) -> str | None:
    row = session.get(ChannelCategoryMapping, (ctx.account_id, ctx.marketplace.id, category))
    return row.external_category_id if row is not None else None


def listing_variants(session: Session, parent_ids: Collection[int]) -> dict[int, tuple[Variant, ...]]:
    """The variations of many listings (parent id → its child listings standing for variations), one query."""
    found: dict[int, list[Variant]] = {parent: [] for parent in parent_ids}
    if not found:
        return {}
    children = session.scalars(
        select(Listing)
        .where(Listing.parent_id.in_(list(found)), Listing.child_kind == VARIATION_KIND)
        .order_by(Listing.id)
    )
    for c in children:
        if c.parent_id is None:
            continue
        quantity = 0 if c.status == PAUSED and c.status_reason == REASON_STOCK else c.available_quantity
        if c.external_id.isdigit():
            found[c.parent_id].append(
                Variant(variation_id=int(c.external_id), quantity=quantity, price=c.price, product_id=c.product_id)
            )
        elif is_item_id(c.external_id):
            found[c.parent_id].append(Variant(0, quantity, c.price, product_id=c.product_id, item_id=c.external_id))
    return {parent: tuple(variants) for parent, variants in found.items()}


def repriced(session: Session, listing: Listing, variants: tuple[Variant, ...]) -> tuple[Variant, ...]:
    """The item's variations priced as the item's listing prices them now (MLC-18: a fixed listing sells every
    variation at its price; an automatic one prices each from its own catalog price through the listing's
    margin), not at the price their child listing was created with: the listing's price or rules may have
    changed since (``PUT /v2/productlistings`` on the item)."""
    prices = {v.product_id: v.price for v in listing_variations(session, listing)}
    return tuple(
        replace(v, price=prices[v.product_id]) if v.product_id in prices and prices[v.product_id] is not None else v
        for v in variants
    )


def listing_data(
    session: Session,
    ctx: ChannelContext,
    listing_id: int | None,
    external_id: str | None,
    variants_of: dict[int, tuple[Variant, ...]] | None = None,
) -> ListingData:
    """The listing's state to push; the product's data (brand, pictures, description, category and its
    mapping, a master's variations) only for a listing still to be created, as an update sends none of it.
    ``variants_of``: the variations already read for a group of listings (``listing_variants``)."""
    listing = listing_row(session, ctx, listing_id, external_id)
    title = listing.title[:MAX_TITLE_LENGTH]
    known = variants_of.get(listing.id) if variants_of is not None else None
    variants = known if known is not None else listing_variants(session, [listing.id])[listing.id]
    if variants and not all(v.item_id for v in variants):
        variants = repriced(session, listing, variants)
    data = ListingData(
        listing_id=listing.id,
        external_id=listing.external_id,
        title=title,
        price=listing.price,
        quantity=max(0, listing.available_quantity),
        status=listing.status,
        status_reason=listing.status_reason,
        listing_type=listing.listing_type,
        seller_sku=listing.seller_sku or listing.sku,
        brand=None,
        gtin=None,
        pictures=(),
        description=None,
        category=None,
        condition=None,
        mapped_category=None,
        predicted_category=None,
        variants=variants,
        kept=listing.marketplace_state,
    )
    if not data.pending:
        return data
    product = session.get(Product, listing.product_id)
    if product is None:
        raise PermanentDeliveryError(f"listing {listing.id} has no product")
    brand = session.get(Brand, product.brand_id)
    return replace(
        data,
        seller_sku=listing.seller_sku or product.sku,
        brand=brand.name if brand is not None else None,
        gtin=product.gtin,
        pictures=tuple(p for p in product.pictures or [] if isinstance(p, str) and p.strip()),
        description=product.description,
        category=product.category,
        condition=product.condition,
        mapped_category=mapped_category(session, ctx, product.category) if product.category else None,
        predicted_category=(
            mapped_category(session, ctx, PREDICTED_PREFIX + normalised_title(title)) if title.strip() else None
        ),
        variations=listing_variations(session, listing),
    )


def order_facts(session: Session, ctx: ChannelContext, ref: OrderRef) -> OrderFacts:
    row = None
    if ref.order_id is not None:
        row = session.get(Order, ref.order_id)
        if row is not None and row.account_id != ctx.account_id:
            row = None
    if row is None and ref.external_order_id:
        row = session.scalars(
            select(Order).where(
                Order.account_id == ctx.account_id,
                Order.marketplace_id == ctx.marketplace.id,
                Order.external_order_id == ref.external_order_id,
            )
        ).first()
    if row is None:
        if not ref.external_order_id:
            raise PermanentDeliveryError(f"order {ref.order_id} not found")
        return OrderFacts(ref.external_order_id, ref.pack_id, None, None)
    buyer_id = None
    try:
        detail = json.loads(row.detail or "{}")
        buyer_id = ml.to_int((detail.get("Buyer") or {}).get("Code"))
    except (ValueError, AttributeError):
        pass
    return OrderFacts(
        external_order_id=row.external_order_id,
        pack_id=ref.pack_id or row.pack_id,
        external_shipping_id=str(row.external_shipping_id) if row.external_shipping_id else None,
        buyer_id=buyer_id,
    )
