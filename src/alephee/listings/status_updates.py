"""PUT /v2/productlistings/update-status: status changes requested by the ERP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.listings import events as webhook_events
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing
from alephee.listings.schemas import (
    ListingResultOut,
    ListingResultsOut,
    ListingStatusIn,
)
from alephee.listings.selection import (
    Selection,
    child_listings,
    echo_element,
    locked_listings,
    parse_element,
    results_of,
    select_listings,
)
from alephee.products.stock import stock_snapshots

STATUS_OK = "OK"
STATUS_UNCHANGED = "The listing already has that status"
STATUS_REQUIRED = "Status is required"
STATUS_NOT_SETTABLE = "Status {code} cannot be requested; use {allowed}"
STATUS_REFUSED = "The marketplace does not accept changing a {current} listing to {target}"
STATUS_NO_STOCK = (
    "The listing cannot be activated: the product has no stock to publish (at or below MinPublicationQuantity)"
)
STATUS_NO_PRICE = (
    "The listing cannot be activated: the product has no price in the listing's price list (set one with "
    "POST /v2/products)"
)


def update_statuses(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any], include_kit_containers: bool
) -> tuple[ListingResultsOut, bool]:
    """Change listing statuses; one result per listing (200 / 304 / 4xx with the reason). The caller owns the
    transaction."""
    table = statuses.table(settings)
    allowed = ", ".join(f"{table.code(n)} ({table.label(n)})" for n in sorted(statuses.USER_TARGETS, key=table.code))
    # One list of results per element, so the response keeps the request order.
    per_item: list[list[ListingResultOut]] = [[] for _ in raw_items]
    planned: list[tuple[list[ListingResultOut], Any, Selection, str]] = []
    for raw, results in zip(raw_items, per_item, strict=True):
        item, error = parse_element(ListingStatusIn, raw)
        if item is None:
            results.append(
                ListingResultOut(ProductListingStatus=[echo_element(raw, None)], Status=400, Message=error or "")
            )
            continue
        target = table.from_code(item.Status) if item.Status is not None else None
        if item.Status is None or target not in statuses.USER_TARGETS:
            message = (
                STATUS_REQUIRED
                if item.Status is None
                else STATUS_NOT_SETTABLE.format(code=item.Status, allowed=allowed)
            )
            results.append(
                ListingResultOut(ProductListingStatus=[echo_element(raw, None)], Status=400, Message=message)
            )
            continue
        selection = select_listings(session, account_id, item, include_kit_containers=include_kit_containers)
        if selection.error is not None:
            status = 400 if selection.error == rules.SELECTION else 404
            results.append(
                ListingResultOut(ProductListingStatus=[echo_element(raw, None)], Status=status, Message=selection.error)
            )
            continue
        planned.append((results, raw, selection, target))  # type: ignore[arg-type]
    locked = locked_listings(session, [lid for _, _, s, _ in planned for lid in s.listing_ids])
    children = child_listings(session, list(locked))
    family = [*locked.values(), *(c for cs in children.values() for c in cs)]
    snapshots = stock_snapshots(session, {listing.product_id for listing in family})
    bases = propagation.base_prices(
        session, account_id, list(locked.values()) + [c for cs in children.values() for c in cs]
    )
    now = clock.utcnow()
    for results, raw, selection, target in planned:
        for external_id in selection.missing:
            echo = {**echo_element(raw, None), "ExternalPublications": [{"ID": external_id}]}
            message = rules.LISTING_NOT_FOUND.format(external_id=external_id)
            results.append(ListingResultOut(ProductListingStatus=[echo], Status=404, Message=message))
        for lid in selection.listing_ids:
            listing = locked[lid]
            status, message = _change_status(session, listing, target, snapshots, bases, now)
            if status == 200:
                for child in children.get(listing.id, []):
                    _change_child_status(session, child, target, snapshots, bases, now)
            results.append(
                ListingResultOut(
                    ProductListingStatus=[echo_element(raw, listing, table.code(target))],
                    Status=status,
                    Message=message,
                )
            )
    return results_of([r for results in per_item for r in results])


def _change_child_status(
    session: Session,
    child: Listing,
    target: str,
    snapshots: dict[int, Any],
    bases: dict[int, Decimal],
    now: datetime,
) -> None:
    """A child listing follows its parent's new status; one that cannot be activated (no stock or no price of its
    own) waits paused for that reason, so restocking or a price reactivates it, instead of staying the seller's."""
    status, message = _change_status(session, child, target, snapshots, bases, now)
    if status == 412 and child.status == statuses.PAUSED:
        child.status_reason = statuses.REASON_NO_PRICE if message == STATUS_NO_PRICE else statuses.REASON_STOCK
        child.status_updated_at = child.updated_at = now
        propagation.publish_change(session, child, [], status_only=True)


def _change_status(
    session: Session,
    listing: Listing,
    target: str,
    snapshots: dict[int, Any],
    bases: dict[int, Decimal],
    now: datetime,
) -> tuple[int, str]:
    if listing.status == target == statuses.PAUSED and listing.status_reason in statuses.AUTOMATIC_REASONS:
        # The seller now holds the pause: a price or stock arriving must not reactivate the listing.
        listing.status_reason = statuses.REASON_USER
        listing.updated_at = now
        propagation.publish_change(session, listing, [], status_only=True)
        return 200, STATUS_OK
    if listing.status == target:
        return 304, STATUS_UNCHANGED
    if target not in statuses.USER_TRANSITIONS.get(listing.status, frozenset()):
        return 406, STATUS_REFUSED.format(current=listing.status, target=target)
    snapshot = snapshots.get(listing.product_id)
    if target == statuses.ACTIVE and not propagation.has_price(listing, bases):
        return 412, STATUS_NO_PRICE
    if target == statuses.ACTIVE and (snapshot is None or snapshot.publish_quantity <= 0):
        return 412, STATUS_NO_STOCK
    listing.status = target
    listing.status_reason = statuses.REASON_USER if target == statuses.PAUSED else None
    listing.status_updated_at = listing.updated_at = now
    if target == statuses.ACTIVE and snapshot is not None:
        listing.available_quantity = snapshot.publish_quantity
    propagation.publish_change(session, listing, [], status_only=True)
    webhook_events.listing_status_changed(session, listing)
    return 200, STATUS_OK
