"""A listing's state as the marketplace shows it (read after a notification, or while linking the seller's
listings): the marketplace's status and sub-status become the hub's status and pause reason and its sales count
replace the hub's copy; its quantity and price only when linking (afterwards the hub's catalog is what they
follow, and a notification read late must not undo a newer change). Nothing is sent back: this is the
marketplace's own news.

The channel's own copy of the item (``Listing.marketplace_state``) is kept from both sides, a push's answer and a
notification's read, the newer one winning (``keep_state``): the next push compares with it instead of reading
the item first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alephee.listings import events as webhook_events
from alephee.listings import statuses
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ListingState

# Marketplace status names (``ListingState.status``) → the hub's status names.
HUB_STATUS: dict[str, str] = {
    "active": statuses.ACTIVE,
    "paused": statuses.PAUSED,
    "closed": statuses.FINISHED,
    "under_review": statuses.UNDER_REVIEW,
    "inactive": statuses.INACTIVE,
}
# The key of a kept state that orders states: the marketplace's time of the item's last change, ISO UTC.
STATE_VERSION = "version"
# A pause the marketplace makes itself when nothing is left to sell (and undoes when stock comes back).
OUT_OF_STOCK = "out_of_stock"


def hub_status(state: ListingState) -> str | None:
    """The hub's status for the marketplace's, or None for a status the hub has no name for."""
    return HUB_STATUS.get(state.status)


def pause_reason(state: ListingState, current: Listing | None) -> str:
    """Why a paused listing is paused: no stock (the marketplace reactivates it on restock), the seller's own
    pause when the hub already held one, else the marketplace's."""
    if OUT_OF_STOCK in state.sub_status:
        return statuses.REASON_STOCK
    if current is not None and current.status == statuses.PAUSED and current.status_reason == statuses.REASON_USER:
        return statuses.REASON_USER
    return statuses.REASON_MARKETPLACE


def keep_state(listing: Listing, state: dict[str, Any] | None) -> bool:
    """Keep the marketplace's ``state`` of the item on the listing unless the kept one is newer (a notification
    read before a push but applied after it must not bring back the older state); an empty state forgets the
    kept one (the channel could not tell the item's state). Whether anything was stored."""
    if state is None:
        return False
    kept = listing.marketplace_state
    if kept == state or (not state and not kept):
        return False
    if state and kept and str(kept.get(STATE_VERSION) or "") > str(state.get(STATE_VERSION) or ""):
        return False
    listing.marketplace_state = state
    return True


def remember_state(session: Session, account_id: int, listing_id: int, state: dict[str, Any]) -> None:
    """Keep a push's answer (``ListingReceipt.state``) on the account's listing (``keep_state``)."""
    listing = session.get(Listing, listing_id)
    if listing is not None and listing.account_id == account_id:
        keep_state(listing, state)


def apply_state(
    session: Session, listing: Listing, state: ListingState, *, now: datetime, linking: bool = False
) -> bool:
    """Copy the marketplace's state onto the hub's listing (status and reason, sales; quantity and price only
    when ``linking``); whether anything changed. A status change raises the ``listing.status_changed`` webhook
    event."""
    keep_state(listing, state.marketplace_state)
    changed = False
    previous = listing.status
    target = hub_status(state)
    if target is not None:
        reason = pause_reason(state, listing) if target == statuses.PAUSED else None
        if (listing.status, listing.status_reason) != (target, reason):
            listing.status, listing.status_reason = target, reason
            listing.status_updated_at = now
            changed = True
    if linking and state.available_quantity is not None and listing.available_quantity != state.available_quantity:
        listing.available_quantity = state.available_quantity
        changed = True
    if state.sold_quantity is not None and listing.sold_quantity != state.sold_quantity:
        listing.sold_quantity = state.sold_quantity
        changed = True
    if linking and state.price is not None and listing.price != state.price:
        listing.price = state.price
        changed = True
    if state.permalink and listing.permanent_link != state.permalink:
        listing.permanent_link = state.permalink
        changed = True
    if not changed:
        return False
    listing.updated_at = now
    session.flush()
    if listing.status != previous:
        webhook_events.listing_status_changed(session, listing, previous)
    return True
