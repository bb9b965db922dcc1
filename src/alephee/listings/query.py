"""Listing reads: the search behind GET /v2/productlistings and the publications shown on products."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from alephee import clock
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.http.params import MAX_INT32
from alephee.listings import rules, statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.listings.schemas import (
    LISTING_TYPES,
    CategoryOut,
    DiscountOut,
    KeyValueOut,
    ListingStatusOut,
    ListingTypeOut,
    ProductListingOut,
)
from alephee.marketplaces.models import Marketplace
from alephee.products.brands import brand_key
from alephee.products.models import Brand, Product
from alephee.products.schemas import GroupedPublicationsOut, IdNameOut, PublicationDetailOut
from alephee.products.schemas import KeyValueOut as ProductKeyValueOut


class UnknownListingStatus(InvalidInput):
    """The ``status`` filter is not a listing status code (400)."""

    message = "Unknown listing status {code}; known codes: {codes}"

    def __init__(self, code: str, codes: str) -> None:
        super().__init__(self.message.format(code=code, codes=codes))


# --- reads -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingFilters:
    """Filters of GET /v2/productlistings/search (CF-50.1.1), parsed."""

    status: str | None = None
    include_childs: bool = False
    marketplace_id: int | None = None
    brand: str | None = None
    sku: str | None = None
    external_id: str | None = None


def parse_status_filter(settings: Settings, raw: str | None) -> str | None:
    """The ``status`` query value as a status name (400 for an unknown code)."""
    if raw is None or not raw.strip():
        return None
    table = statuses.table(settings)
    codes = ", ".join(f"{table.code(n)} {table.label(n)}" for n in statuses.DEFAULT_TABLE)
    code = int_from_text(raw)
    name = table.from_code(code) if code is not None else None
    if name is None:
        raise UnknownListingStatus(raw.strip(), codes)
    return name


def active_discounts(session: Session, listing_ids: Collection[int], now: datetime) -> dict[int, ListingDiscount]:
    """The discount in force now for each listing (the most recently created wins)."""
    if not listing_ids:
        return {}
    rows = session.scalars(
        select(ListingDiscount)
        .where(
            ListingDiscount.listing_id.in_(sorted(listing_ids)),
            ListingDiscount.start_at <= now,
            ListingDiscount.finish_at > now,
        )
        .order_by(ListingDiscount.listing_id, ListingDiscount.id)
    )
    return {d.listing_id: d for d in rows}


def search(
    session: Session, settings: Settings, account_id: int, filters: ListingFilters, page: Page
) -> tuple[int, list[ProductListingOut]]:
    """One page of the account's listings with every filter AND-combined."""
    conditions: list[Any] = [Listing.account_id == account_id]
    if not filters.include_childs:
        conditions.append(Listing.parent_id.is_(None))
    if filters.status is not None:
        conditions.append(Listing.status == filters.status)
    if filters.marketplace_id is not None:
        conditions.append(Listing.marketplace_id == filters.marketplace_id)
    if filters.external_id:
        conditions.append(Listing.external_id == filters.external_id.strip())
    if filters.sku:
        sku = filters.sku.strip()
        conditions.append(or_(Listing.sku == sku, Product.sku == sku))
    if filters.brand:
        text = filters.brand.strip()
        brand_cond = Brand.name_key == brand_key(text)
        brand_id = int_from_text(text)
        by_id = brand_id is not None and 0 <= brand_id <= MAX_INT32
        conditions.append(or_(brand_cond, Brand.id == brand_id) if by_id else brand_cond)
    base = (
        select(Listing.id)
        .join(Product, Product.id == Listing.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .where(and_(*conditions))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    order = [Listing.created_at, Listing.id] if page.sort.id == "dateCreated" else [Listing.id]
    ids = list(session.scalars(base.order_by(*order).offset(page.offset).limit(page.limit)))
    return total, listing_views(session, settings, ids)


def listing_views(session: Session, settings: Settings, ids: Sequence[int]) -> list[ProductListingOut]:
    """ProductListing objects for ``ids``, in that order."""
    if not ids:
        return []
    rows = session.execute(
        select(Listing, Product.sku, Product.own_code, Brand.name, Marketplace.name)
        .join(Product, Product.id == Listing.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .where(Listing.id.in_(ids))
    ).all()
    by_id = {row[0].id: row for row in rows}
    now = clock.utcnow()
    discounts = active_discounts(session, ids, now)
    table = statuses.table(settings)
    out: list[ProductListingOut] = []
    for lid in ids:
        listing, product_sku, own_code, brand, marketplace = by_id[lid]
        # A listing without a price shows 0 (as products show amounts never set); it is paused (no_price).
        regular = listing.price if listing.price is not None else Decimal(0)
        discount = discounts.get(lid) if listing.price is not None else None
        price = rules.discounted(regular, discount.percent) if discount else regular
        listing_type = None
        if listing.listing_type is not None and listing.listing_type in LISTING_TYPES:
            name, description = LISTING_TYPES[listing.listing_type]
            listing_type = ListingTypeOut(Id=listing.listing_type, Name=name, Description=description)
        out.append(
            ProductListingOut(
                Id=listing.id,
                Brand=brand,
                SKU=listing.sku,
                ProductSKU=product_sku,
                SellerSKU=listing.seller_sku or own_code,
                ExternalId=listing.external_id,
                Marketplace=KeyValueOut(Key=listing.marketplace_id, Value=marketplace),
                Title=listing.title,
                Status=ListingStatusOut(
                    Key=table.code(listing.status),
                    Name=table.label(listing.status),
                    UpdatedDateTime=listing.status_updated_at,
                ),
                PermanentLink=listing.permanent_link,
                Category=CategoryOut(Id=listing.category_id, Value=listing.category_name)
                if listing.category_id
                else None,
                ListingType=listing_type,
                Price=price,
                Deals=list(listing.deals or []),
                AvailableQuantity=listing.available_quantity,
                SoldQuantity=listing.sold_quantity,
                Visits=listing.visits,
                Health=listing.health,
                OriginalPrice=regular if discount else None,
                Discount=DiscountOut(
                    Percent=discount.percent, StartDate=discount.start_at, FinishDate=discount.finish_at
                )
                if discount
                else None,
                DateCreated=listing.created_at,
                ParentId=listing.parent_id,
                StatusReason=listing.status_reason if listing.status != statuses.ACTIVE else None,
            )
        )
    return out


def grouped_publications(
    session: Session, settings: Settings, account_id: int, product_ids: Collection[int]
) -> dict[int, list[Any]]:
    """The ``Publications`` of GET /v2/products: per product, per marketplace, per status, the count and
    ExternalId → listing Id (standard listings only)."""
    rows = session.execute(
        select(
            Listing.product_id,
            Listing.marketplace_id,
            Marketplace.name,
            Listing.status,
            Listing.external_id,
            Listing.id,
        )
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .where(
            Listing.account_id == account_id,
            Listing.product_id.in_(sorted(product_ids)),
            Listing.parent_id.is_(None),
        )
        .order_by(Listing.product_id, Listing.marketplace_id, Listing.id)
    ).all()
    table = statuses.table(settings)
    grouped: dict[int, dict[tuple[int, str], dict[str, dict[str, int]]]] = defaultdict(lambda: defaultdict(dict))
    for pid, mid, mname, status, external_id, lid in rows:
        grouped[pid][(mid, mname)].setdefault(status, {})[external_id] = lid
    out: dict[int, list[Any]] = {}
    for pid, by_marketplace in grouped.items():
        out[pid] = [
            GroupedPublicationsOut(
                MarketPlace=ProductKeyValueOut(Key=mid, Value=mname),
                Details=[
                    PublicationDetailOut(
                        Status=IdNameOut(Id=table.code(status), Name=table.label(status)),
                        Quantity=len(externals),
                        ExternalIds=externals,
                    )
                    for status, externals in sorted(by_status.items(), key=lambda kv: table.code(kv[0]))
                ],
            )
            for (mid, mname), by_status in by_marketplace.items()
        ]
    return out


# Listings loaded by one query at most (bound parameters stay well under every database's limit).
PREFETCH_CHUNK = 500


def prefetch_listings(session: Session, listing_ids: Sequence[int]) -> list[Listing]:
    """Load many listings into ``session``, with their kept copies (``Listing.marketplace_state``), with two
    queries per ``PREFETCH_CHUNK``, so that each ``session.get`` of one of them that follows (a channel reading a
    group of listings to deliver) finds it and its copy without a query.

    The caller keeps the returned list for as long as it reads: a session's identity map holds its objects
    weakly, so rows nobody references are dropped at once and every ``session.get`` would query again."""
    ids = list(dict.fromkeys(listing_ids))
    loaded: list[Listing] = []
    for start in range(0, len(ids), PREFETCH_CHUNK):
        chunk = ids[start : start + PREFETCH_CHUNK]
        loaded += session.scalars(select(Listing).where(Listing.id.in_(chunk)).options(selectinload(Listing.kept)))
    return loaded
