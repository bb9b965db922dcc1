"""Linking a seller's existing marketplace listings to the hub's products (``alephee channel sync``).

The channel lists the seller's listings page by page (``InboundChannel.list_listings``, called outside any
transaction); each page is applied in one write transaction. A listing the hub already has (same marketplace and
external id) is refreshed with the marketplace's title, price, quantity and status; a new one is linked to the
account's product whose ``sku`` or ``own_code`` is the listing's SKU, else, for a listing with variations, to the
variation product of the first variation whose SKU matches (its master product when it has one, so the listing is
the master's as the hub publishes them). A listing no product matches is counted, not created. The marketplace's
external id is unique per marketplace, so running it again never creates a second listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.db import Database
from alephee.listings import statuses
from alephee.listings.marketplace_state import apply_state, hub_status, keep_state, keep_states, pause_reason
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext, InboundChannel, ListingState, MarketplaceRef
from alephee.products.models import Product
from alephee.products.schemas import VARIATION_CHILD

# At most this many pages per run (with 100 per page: a million listings).
MAX_PAGES = 10_000
PAGE_SIZE = 100
MAX_TITLE = 300
MAX_SKU = 100

LINKED = "linked"
UPDATED = "updated"
UNMATCHED = "unmatched"


@dataclass
class LinkStats:
    """What a linking run did: listings created for a product, existing ones refreshed, listings no product
    matched."""

    linked: int = 0
    updated: int = 0
    unmatched: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_json(self) -> dict[str, int]:
        return {"Linked": self.linked, "Updated": self.updated, "Unmatched": self.unmatched}


def _product_by_sku(session: Session, account_id: int, sku: str, *, variation: bool = False) -> Product | None:
    """The account's product with ``sku`` as its SKU (preferred) or own code."""
    query = (
        select(Product)
        .where(Product.account_id == account_id, or_(Product.sku == sku, Product.own_code == sku))
        .order_by(case((Product.sku == sku, 0), else_=1), Product.id)
        .limit(1)
    )
    if variation:
        query = query.where(Product.product_type == VARIATION_CHILD)
    return session.scalar(query)


def match_product(session: Session, account_id: int, state: ListingState) -> Product | None:
    """The hub product a marketplace listing sells (see the module docstring), or None."""
    if state.sku:
        product = _product_by_sku(session, account_id, state.sku)
        if product is not None:
            return product
    for _variation_id, sku in state.variations:
        if not sku:
            continue
        product = _product_by_sku(session, account_id, sku, variation=True)
        if product is not None:
            master = session.get(Product, product.parent_id) if product.parent_id is not None else None
            return master if master is not None and master.account_id == account_id else product
    return None


def link_listing(
    session: Session,
    account_id: int,
    marketplace_id: int,
    state: ListingState,
    copies: dict[int, dict[str, Any] | None] | None = None,
) -> str:
    """Refresh or create the hub's listing for one marketplace listing; ``linked``, ``updated`` or
    ``unmatched`` (also for an external id another account's listing holds). The item's copy is kept at once,
    or added to ``copies`` (listing id → state) for the caller to keep a page of them in one upsert."""
    now = clock.utcnow()
    query = select(Listing).where(Listing.marketplace_id == marketplace_id, Listing.external_id == state.external_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    existing = session.scalar(query)
    if existing is not None:
        if existing.account_id != account_id:
            return UNMATCHED
        if state.title and existing.title != state.title[:MAX_TITLE]:
            existing.title = state.title[:MAX_TITLE]
            existing.updated_at = now
        apply_state(session, existing, state, now=now, linking=True)
        _keep(session, existing.id, state, copies)
        return UPDATED
    product = match_product(session, account_id, state)
    if product is None:
        return UNMATCHED
    status = hub_status(state) or statuses.INACTIVE
    listing = Listing(
        account_id=account_id,
        marketplace_id=marketplace_id,
        product_id=product.id,
        external_id=state.external_id,
        title=(state.title or product.name)[:MAX_TITLE],
        permanent_link=state.permalink,
        sku=product.sku,
        seller_sku=state.sku[:MAX_SKU] if state.sku else None,
        price=state.price,
        available_quantity=state.available_quantity or 0,
        sold_quantity=state.sold_quantity or 0,
        status=status,
        status_reason=pause_reason(state, None) if status == statuses.PAUSED else None,
        status_updated_at=now,
        category_id=state.category_id,
        created_at=now,
        updated_at=now,
    )
    session.add(listing)
    session.flush()
    _keep(session, listing.id, state, copies)
    return LINKED


def _keep(
    session: Session, listing_id: int, state: ListingState, copies: dict[int, dict[str, Any] | None] | None
) -> None:
    if copies is None:
        keep_state(session, listing_id, state.marketplace_state)
    else:
        copies[listing_id] = state.marketplace_state


def link_listings(
    db: Database,
    settings: Settings,
    channel: InboundChannel,
    account_id: int,
    marketplace: MarketplaceRef,
    *,
    external_seller_id: str | None = None,
    page_size: int = PAGE_SIZE,
) -> LinkStats:
    """Read every page of the seller's listings and link each (one transaction per page)."""
    stats = LinkStats()
    ctx = ChannelContext(
        account_id=account_id,
        marketplace=marketplace,
        external_seller_id=external_seller_id,
        db=db,
        settings=settings,
    )
    cursor: str | None = None
    # A scan may hand back the same cursor on every page (Mercado Libre's scroll_id does): the listing ends with
    # an empty page, and a page cap keeps a marketplace that never says so from looping forever.
    for _ in range(MAX_PAGES):
        page = channel.list_listings(ctx, cursor, page_size)
        with db.writing() as session:
            copies: dict[int, dict[str, Any] | None] = {}
            for state in page.listings:
                stats.count(link_listing(session, account_id, marketplace.id, state, copies))
            keep_states(session, copies)
        if not page.has_more or page.cursor is None or not page.listings:
            return stats
        cursor = page.cursor
    return stats
