"""A listing's variations as a marketplace sells them, and the child listings that remember their marketplace ids.

The variations of a variation master's listing are the master's variation products, each with its
(name, value) attributes (``Product.attributes``: ``Name`` with ``ValueName`` or ``Value``), its price under the
listing's rules (an ``auto`` listing prices each variation from the variation's own price in the listing's
price list, falling back to the listing's price; a ``fixed`` listing sells every variation at its price) and its
publishable stock. Once the marketplace has given the variations ids, each is kept as a child listing
(``parent_id`` = the item's listing, ``child_kind`` ``variation``, ``external_id`` = the variation id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing
from alephee.products.catalog import attributes_out
from alephee.products.models import Product
from alephee.products.price_lists import sale_prices
from alephee.products.schemas import VARIATION_MASTER
from alephee.products.stock import stock_snapshots

VARIATION_KIND = "variation"


@dataclass(frozen=True, slots=True)
class VariationFacts:
    """One variation of a listing: its product, SKU, attributes, price, publishable stock and pictures."""

    product_id: int
    sku: str
    attributes: tuple[tuple[str, str], ...]
    price: Decimal | None
    quantity: int
    pictures: tuple[str, ...]
    gtin: str | None = None


def attribute_pairs(product: Product) -> tuple[tuple[str, str], ...]:
    """The product's (name, value) attributes, in their order, skipping the ones without a name or value."""
    pairs = ((a.Name.strip(), (a.ValueName or a.Value or "").strip()) for a in attributes_out(product.attributes))
    return tuple((name, value) for name, value in pairs if name and value)


def listing_variations(session: Session, listing: Listing) -> tuple[VariationFacts, ...]:
    """The variations of ``listing`` (empty unless its product is a variation master), in product id order."""
    master = session.get(Product, listing.product_id)
    if master is None or master.product_type != VARIATION_MASTER:
        return ()
    children = list(
        session.scalars(
            select(Product)
            .where(Product.parent_id == master.id, Product.account_id == listing.account_id)
            .order_by(Product.id)
        )
    )
    ids = [child.id for child in children]
    snapshots = stock_snapshots(session, ids)
    price_list = listing.price_list_id or propagation.default_price_list(session, listing.account_id)
    bases = sale_prices(session, ids, [price_list]) if price_list is not None and listing.price_mode == "auto" else {}
    out: list[VariationFacts] = []
    for child in children:
        base = bases.get((child.id, price_list))
        price = rules.auto_price(base, listing.margin, listing.added_fixed_value) if base is not None else listing.price
        snapshot = snapshots.get(child.id)
        out.append(
            VariationFacts(
                product_id=child.id,
                sku=child.sku,
                attributes=attribute_pairs(child),
                price=price,
                quantity=snapshot.publish_quantity if snapshot is not None else 0,
                pictures=tuple(p for p in child.pictures or [] if isinstance(p, str) and p.strip()),
                gtin=child.gtin,
            )
        )
    return tuple(out)


def record_variation_ids(
    session: Session, parent: Listing, sent: tuple[VariationFacts, ...], ids: Mapping[int, str]
) -> list[Listing]:
    """Keep the marketplace ids of ``parent``'s variations (``ids``: product id → variation id) on its child
    listings, creating the missing ones with what was ``sent`` (price, quantity) and the parent's price rules.
    No outbox row: the marketplace already has what was sent. Does not commit."""
    existing = {
        child.product_id: child
        for child in session.scalars(
            select(Listing).where(Listing.parent_id == parent.id, Listing.child_kind == VARIATION_KIND)
        )
    }
    now = clock.utcnow()
    kept: list[Listing] = []
    for variation in sent:
        external_id = ids.get(variation.product_id)
        if external_id is None:
            continue
        child = existing.get(variation.product_id)
        if child is None:
            child = Listing(
                account_id=parent.account_id,
                marketplace_id=parent.marketplace_id,
                product_id=variation.product_id,
                parent_id=parent.id,
                child_kind=VARIATION_KIND,
                title=parent.title,
                sku=variation.sku,
                seller_sku=variation.sku,
                price_list_id=parent.price_list_id,
                # A fixed-price item sells every variation at the item's price: the child follows the parent.
                price_mode=parent.price_mode,
                margin=parent.margin,
                added_fixed_value=parent.added_fixed_value,
                sold_quantity=0,
                status=statuses.ACTIVE,
                status_updated_at=now,
                category_id=parent.category_id,
                category_name=parent.category_name,
                listing_type=parent.listing_type,
                deals=[],
                created_at=now,
            )
            session.add(child)
        child.external_id = external_id
        child.price = variation.price
        child.available_quantity = variation.quantity
        child.updated_at = now
        kept.append(child)
    session.flush()
    return kept
