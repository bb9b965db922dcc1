"""The listings' webhook event ``listing.status_changed``, recorded with ``webhooks.events.emit`` in the
caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.orm import Session

from alephee.webhooks.events import LISTING_STATUS_CHANGED, emit


def listing_status_changed(session: Session, listing: Any, previous_status: str | None = None) -> None:
    """``listing.status_changed`` after ``listing.status`` changed (status names of ``listings/statuses.py``).
    ``previous_status`` defaults to the status the row had when it was loaded or last flushed."""
    if previous_status is None:
        previous_status = _stored_value(listing, "status")
    if previous_status == listing.status:
        return
    emit(
        session,
        listing.account_id,
        LISTING_STATUS_CHANGED,
        {"ListingId": listing.id, "ProductId": listing.product_id},
        {
            "MarketplaceId": listing.marketplace_id,
            "ExternalId": listing.external_id,
            "Sku": listing.sku,
            "Status": listing.status,
            "StatusReason": listing.status_reason,
            "PreviousStatus": previous_status,
        },
    )


def stored_status(listing: Any) -> str | None:
    """The status ``listing`` has in the database before this session's unflushed changes (None if unknown)."""
    value: str | None = _stored_value(listing, "status")
    return value


def _stored_value(row: Any, attribute: str) -> Any:
    """The value ``attribute`` had in the database before this session's unflushed changes (None if unknown)."""
    try:
        history = sa_inspect(row).attrs[attribute].history
    except (NoInspectionAvailable, KeyError):
        return None
    stored = history.deleted or history.unchanged
    return stored[0] if stored else None
