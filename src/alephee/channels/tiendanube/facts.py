"""What the Tiendanube channel reads from the hub before calling the store (each read in a short transaction of
its own): a listing with its product and, for a variation master, every variation as one variant (SKU, option
values, price in the listing's price list, publishable stock); an order's Tiendanube id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.channels.tiendanube import mapping as tn
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.listings.statuses import ACTIVE, FINISHED, PAUSED, REASON_STOCK
from alephee.listings.variations import listing_variations
from alephee.marketplaces.contract import ChannelContext, OrderRef, PermanentDeliveryError
from alephee.orders.models import Order
from alephee.products.models import Brand, Product
from alephee.products.schemas import VARIATION_MASTER


@dataclass(frozen=True, slots=True)
class ListingData:
    """The current state of a listing and its product, read in one short transaction."""

    listing_id: int
    external_id: str
    status: str
    status_reason: str | None
    product: tn.ProductIn
    # The product as the hub last saw it (``Listing.marketplace_state``, see ``kept.kept_state``), or None.
    kept: dict[str, Any] | None = None

    @property
    def pending(self) -> bool:
        return self.external_id.startswith(PENDING_PREFIX)

    @property
    def published(self) -> bool:
        """Shown in the storefront: active, or paused only because nothing is left (stock 0 stops sales)."""
        return self.status == ACTIVE or (self.status == PAUSED and self.status_reason == REASON_STOCK)

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    def by_sku(self) -> dict[str, tn.VariantIn]:
        return {v.sku: v for v in self.product.variants}


def listing_row(session: Session, ctx: ChannelContext, listing_id: int | None, external_id: str | None) -> Listing:
    """The account's listing by id, else by its Tiendanube product id."""
    row = session.get(Listing, listing_id) if listing_id is not None else None
    if row is None and external_id:
        row = session.scalars(
            select(Listing).where(Listing.marketplace_id == ctx.marketplace.id, Listing.external_id == external_id)
        ).first()
    if row is None or row.account_id != ctx.account_id:
        raise PermanentDeliveryError(f"listing {listing_id or external_id} not found")
    return row


def _variants(session: Session, listing: Listing, product: Product) -> tuple[tuple[str, ...], tuple[tn.VariantIn, ...]]:
    """The option names and variants of a listing: its product's variations for a master (as every marketplace
    sells them, ``listings.variations``), else the product."""
    if product.product_type != VARIATION_MASTER:
        variant = tn.VariantIn(
            sku=product.sku,
            price=listing.price,
            stock=max(0, listing.available_quantity),
            barcode=product.gtin,
        )
        return (), (variant,)
    variations = listing_variations(session, listing)
    options = tn.variation_options([v.attributes for v in variations])
    variants = tuple(
        tn.VariantIn(
            sku=v.sku,
            price=v.price,
            stock=v.quantity,
            values=tuple(dict(v.attributes).get(name, "") for name in options),
            barcode=v.gtin,
        )
        for v in variations
    )
    return options, variants


def listing_data(session: Session, ctx: ChannelContext, listing_id: int | None, external_id: str | None) -> ListingData:
    """A listing, its product and its variants as they are now."""
    listing = listing_row(session, ctx, listing_id, external_id)
    product = session.get(Product, listing.product_id)
    if product is None:
        raise PermanentDeliveryError(f"listing {listing.id} has no product")
    brand = session.get(Brand, product.brand_id)
    options, variants = _variants(session, listing, product)
    return ListingData(
        listing_id=listing.id,
        external_id=listing.external_id,
        status=listing.status,
        status_reason=listing.status_reason,
        product=tn.ProductIn(
            name=listing.title,
            variants=variants,
            description=product.description,
            brand=brand.name if brand is not None else None,
            pictures=tuple(p for p in product.pictures or [] if isinstance(p, str) and p.strip()),
            published=listing.status == ACTIVE or (listing.status == PAUSED and listing.status_reason == REASON_STOCK),
            options=options,
        ),
        kept=listing.marketplace_state,
    )


def listing_statuses(session: Session, ctx: ChannelContext, external_ids: Sequence[str]) -> dict[str, str]:
    """The hub's status of the account's listings of these Tiendanube products, by product id (a product the hub
    has no listing of is left out)."""
    rows = session.execute(
        select(Listing.external_id, Listing.status).where(
            Listing.account_id == ctx.account_id,
            Listing.marketplace_id == ctx.marketplace.id,
            Listing.external_id.in_(list(external_ids)),
        )
    )
    return {external_id: status for external_id, status in rows}


def external_order_id(session: Session, ctx: ChannelContext, ref: OrderRef) -> str:
    """The Tiendanube id of the order a push names."""
    if ref.external_order_id:
        return ref.external_order_id
    row = session.get(Order, ref.order_id) if ref.order_id is not None else None
    if row is None or row.account_id != ctx.account_id or row.marketplace_id != ctx.marketplace.id:
        raise PermanentDeliveryError(f"order {ref.order_id} not found")
    return row.external_order_id
