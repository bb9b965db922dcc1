"""PUT /v2/productlistings/discounts: discount windows on listings, and the outbox rows carrying them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.http.wire import format_utc
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.listings.schemas import (
    ListingDiscountIn,
    ListingResultOut,
    ListingResultsOut,
)
from alephee.listings.selection import (
    Selection,
    echo_element,
    locked_listings,
    parse_element,
    results_of,
    select_listings,
)
from alephee.marketplaces.outbox import enqueue

DISCOUNT_OK = "OK"
DISCOUNT_FINISHED = "The listing is finished; discounts cannot be set on it"
DISCOUNT_REMOVED = "Discount 0%: the discounts of the listing overlapping the window were removed"


def set_discounts(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any]
) -> tuple[ListingResultsOut, bool]:
    """Schedule percentage discounts; one result per listing. The caller owns the transaction."""
    per_item: list[list[ListingResultOut]] = [[] for _ in raw_items]
    planned: list[tuple[list[ListingResultOut], Any, Selection, Decimal, datetime, datetime]] = []
    now = clock.utcnow()
    for raw, results in zip(raw_items, per_item, strict=True):
        item, error = parse_element(ListingDiscountIn, raw)
        problems: list[str] = [error] if error else []
        start = finish = None
        if item is not None:
            start, start_error = rules.parse_utc(item.StartDate, "StartDate")
            finish, finish_error = rules.parse_utc(item.FinishDate, "FinishDate")
            problems += list(dict.fromkeys(e for e in (start_error, finish_error) if e))
            if start is not None and finish is not None:
                problems += rules.discount_problems(item.DiscountPercent, start, finish, now)
        if problems or item is None or start is None or finish is None:
            results.append(
                ListingResultOut(
                    ProductListingStatus=[echo_element(raw, None)], Status=400, Message="; ".join(problems)
                )
            )
            continue
        selection = select_listings(session, account_id, item)
        if selection.error is not None:
            status = 400 if selection.error == rules.SELECTION else 404
            results.append(
                ListingResultOut(ProductListingStatus=[echo_element(raw, None)], Status=status, Message=selection.error)
            )
            continue
        planned.append((results, raw, selection, item.DiscountPercent, start, finish))
    locked = locked_listings(session, [lid for _, _, s, *_ in planned for lid in s.listing_ids])
    family = propagation.families(session, {listing.marketplace_id for listing in locked.values()})
    for results, raw, selection, percent, start, finish in planned:
        for external_id in selection.missing:
            echo = {**echo_element(raw, None), "ExternalPublications": [{"ID": external_id}]}
            message = rules.LISTING_NOT_FOUND.format(external_id=external_id)
            results.append(ListingResultOut(ProductListingStatus=[echo], Status=404, Message=message))
        for lid in selection.listing_ids:
            listing = locked[lid]
            status, message = _discount(session, settings, listing, family, percent, start, finish, now)
            results.append(
                ListingResultOut(ProductListingStatus=[echo_element(raw, listing)], Status=status, Message=message)
            )
    return results_of([r for results in per_item for r in results])


def _discount(
    session: Session,
    settings: Settings,
    listing: Listing,
    family: dict[int, str],
    percent: Decimal,
    start: datetime,
    finish: datetime,
    now: datetime,
) -> tuple[int, str]:
    if listing.status == statuses.FINISHED:
        return 406, DISCOUNT_FINISHED
    if family.get(listing.marketplace_id) == propagation.ML_FAMILY:
        problems = rules.mercadolibre_problems(percent, start, finish, settings)
        if problems:
            return 400, "; ".join(problems)
    # One discount at a time per window (ML PRICE_DISCOUNT): the new one replaces those it overlaps.
    session.execute(
        delete(ListingDiscount).where(
            ListingDiscount.listing_id == listing.id,
            ListingDiscount.start_at < finish,
            ListingDiscount.finish_at > start,
        )
    )
    listing.updated_at = now
    if percent == 0:
        propagation.publish_change(session, listing, ["Discount"])
        return 200, DISCOUNT_REMOVED
    session.add(
        ListingDiscount(listing_id=listing.id, percent=percent, start_at=start, finish_at=finish, created_at=now)
    )
    session.flush()
    enqueue_discount(session, listing, percent, start, finish)
    return 200, DISCOUNT_OK


def enqueue_discount(session: Session, listing: Listing, percent: Decimal, start: datetime, finish: datetime) -> None:
    """A ``listing.update`` row carrying the discount (regular price unchanged, window in UTC)."""
    enqueue(
        session,
        account_id=listing.account_id,
        marketplace_id=listing.marketplace_id,
        topic=propagation.TOPIC_UPDATE,
        aggregate_type="listing",
        aggregate_id=listing.id,
        payload=propagation.listing_payload(listing, ["Discount"], **discount_fields(percent, start, finish)),
    )


def discount_fields(percent: Decimal, start: datetime, finish: datetime) -> dict[str, Any]:
    """The keys of a ``listing.update`` payload that carry a discount (``marketplaces.topics.listing_push``)."""
    return {
        "discount_percent": str(percent),
        "discount_start": format_utc(start),
        "discount_finish": format_utc(finish),
        "discount_type": "PRICE_DISCOUNT",
    }


def current_payload(session: Session, listing: Listing, changed: Sequence[str]) -> dict[str, Any]:
    """The listing's full published state as it is now, with the discount it has now or, failing that, the next
    one scheduled (windows never overlap: a new one replaces those it overlaps); percent 0 when it has none. What a
    channel that reads the listing at delivery time sends."""
    discount = session.scalar(
        select(ListingDiscount)
        .where(ListingDiscount.listing_id == listing.id, ListingDiscount.finish_at > clock.utcnow())
        .order_by(ListingDiscount.start_at, ListingDiscount.id)
        .limit(1)
    )
    if discount is None:
        return propagation.listing_payload(listing, changed, discount_percent=0)
    fields = discount_fields(discount.percent, discount.start_at, discount.finish_at)
    return propagation.listing_payload(listing, changed, **fields)
