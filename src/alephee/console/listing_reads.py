"""The console's listings: the operator's listings filtered by marketplace, status and error, each with why it
is paused (no price, minimum stock, paused by the seller, or the marketplace's refusal with its cause) and its
delivery history (the outbox rows that carried it to the marketplace); retrying its failed deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from alephee.console.health import AccountScope, in_scope
from alephee.errors import InvalidInput, NotFound
from alephee.http.i18n import N_
from alephee.listings import statuses
from alephee.listings.models import Listing
from alephee.marketplaces import outbox
from alephee.marketplaces.models import Marketplace, OutboxMessage

# Rows a listings page shows.
PAGE_SIZE = 50
# Delivery history rows shown on a listing's page (newest first).
HISTORY_ROWS = 50
LISTING_AGGREGATE = "listing"

# Pause reasons as the console names them (message ids of its catalogs). A listing paused by the marketplace,
# or with a failed delivery, shows the marketplace's refusal as its cause.
PAUSE_NO_PRICE = "no_price"
PAUSE_MIN_STOCK = "minimum_stock"
PAUSE_SELLER = "seller_paused"
PAUSE_MARKETPLACE = "marketplace_refused"
_PAUSE_OF_REASON = {
    statuses.REASON_NO_PRICE: PAUSE_NO_PRICE,
    statuses.REASON_STOCK: PAUSE_MIN_STOCK,
    statuses.REASON_USER: PAUSE_SELLER,
    statuses.REASON_MARKETPLACE: PAUSE_MARKETPLACE,
}
ERROR_FILTERS = ("with", "without")


class ListingNotFound(NotFound):
    """No listing with this id among the operator's accounts (404, the same as one that does not exist)."""

    message = N_("Listing not found")


class BadListingFilter(InvalidInput):
    """A filter value the listings page does not offer."""

    message = N_("Unknown listing filter value")


@dataclass(frozen=True, slots=True)
class ListingFilters:
    """The listings page's filters; None = any."""

    account_id: int | None = None
    marketplace_id: int | None = None
    status: str | None = None
    # "with": only listings with a failed delivery; "without": only those without.
    error: str | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in statuses.DEFAULT_TABLE:
            raise BadListingFilter()
        if self.error is not None and self.error not in ERROR_FILTERS:
            raise BadListingFilter()
        if self.offset < 0:
            raise BadListingFilter()


@dataclass(frozen=True, slots=True)
class ListingRow:
    """One listing as the console lists it."""

    id: int
    account_id: int
    marketplace_id: int
    marketplace_name: str
    external_id: str
    title: str
    sku: str
    price: Any
    available_quantity: int
    status: str
    pause_reason: str | None
    # The last marketplace refusal (the newest failed delivery's error), when there is one.
    error: str | None


def _failed(listing_id: Any) -> Any:
    return exists().where(
        OutboxMessage.aggregate_type == LISTING_AGGREGATE,
        OutboxMessage.aggregate_id == listing_id,
        OutboxMessage.status == "failed",
    )


def pause_reason(listing: Listing, error: str | None) -> str | None:
    """Why the listing is not selling: None when active and without a refusal."""
    if listing.status == statuses.PAUSED:
        return _PAUSE_OF_REASON.get(listing.status_reason or "", PAUSE_SELLER)
    if error is not None:
        return PAUSE_MARKETPLACE
    return None


def _last_errors(session: Session, listing_ids: list[int]) -> dict[int, str]:
    if not listing_ids:
        return {}
    newest = (
        select(func.max(OutboxMessage.id))
        .where(
            OutboxMessage.aggregate_type == LISTING_AGGREGATE,
            OutboxMessage.aggregate_id.in_(listing_ids),
            OutboxMessage.status == "failed",
        )
        .group_by(OutboxMessage.aggregate_id)
    )
    return {
        aggregate_id: error or ""
        for aggregate_id, error in session.execute(
            select(OutboxMessage.aggregate_id, OutboxMessage.last_error).where(OutboxMessage.id.in_(newest))
        )
    }


def find_listings(session: Session, accounts: AccountScope, filters: ListingFilters) -> tuple[int, list[ListingRow]]:
    """The total and one page (``PAGE_SIZE``, newest first) of the operator's listings that match."""
    conds: list[Any] = [in_scope(Listing.account_id, accounts)]
    if filters.account_id is not None:
        conds.append(Listing.account_id == filters.account_id)
    if filters.marketplace_id is not None:
        conds.append(Listing.marketplace_id == filters.marketplace_id)
    if filters.status is not None:
        conds.append(Listing.status == filters.status)
    if filters.error == "with":
        conds.append(_failed(Listing.id))
    elif filters.error == "without":
        conds.append(~_failed(Listing.id))
    total = session.scalar(select(func.count()).select_from(Listing).where(*conds)) or 0
    rows = list(
        session.scalars(
            select(Listing).where(*conds).order_by(Listing.id.desc()).offset(filters.offset).limit(PAGE_SIZE)
        )
    )
    errors = _last_errors(session, [r.id for r in rows])
    names = _marketplace_names(session, {r.marketplace_id for r in rows})
    return total, [_row(r, errors.get(r.id), names) for r in rows]


def _marketplace_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        row[0]: row[1]
        for row in session.execute(select(Marketplace.id, Marketplace.name).where(Marketplace.id.in_(ids)))
    }


def _row(listing: Listing, error: str | None, names: dict[int, str]) -> ListingRow:
    return ListingRow(
        id=listing.id,
        account_id=listing.account_id,
        marketplace_id=listing.marketplace_id,
        marketplace_name=names.get(listing.marketplace_id, str(listing.marketplace_id)),
        external_id=listing.external_id,
        title=listing.title,
        sku=listing.sku,
        price=listing.price,
        available_quantity=listing.available_quantity,
        status=listing.status,
        pause_reason=pause_reason(listing, error),
        error=error,
    )


def scoped_listing(session: Session, accounts: AccountScope, listing_id: int) -> Listing:
    """The listing, when it belongs to one of the operator's accounts; ``ListingNotFound`` otherwise."""
    listing = session.get(Listing, listing_id)
    if listing is None or (accounts is not None and listing.account_id not in accounts):
        raise ListingNotFound()
    return listing


@dataclass(frozen=True, slots=True)
class ListingDetail:
    """A listing's page: the row, and its deliveries newest first."""

    listing: ListingRow
    status_reason: str | None
    deliveries: list[OutboxMessage]


def listing_detail(session: Session, accounts: AccountScope, listing_id: int) -> ListingDetail:
    """One of the operator's listings with its pause reason and delivery history."""
    listing = scoped_listing(session, accounts, listing_id)
    deliveries = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.aggregate_type == LISTING_AGGREGATE, OutboxMessage.aggregate_id == listing.id)
            .order_by(OutboxMessage.id.desc())
            .limit(HISTORY_ROWS)
        )
    )
    error = next((d.last_error or "" for d in deliveries if d.status == "failed"), None)
    names = _marketplace_names(session, {listing.marketplace_id})
    return ListingDetail(_row(listing, error, names), listing.status_reason, deliveries)


def retry_listing(session: Session, accounts: AccountScope, listing_id: int) -> list[int]:
    """Put the listing's failed deliveries back in the queue (``outbox.retry`` on each); their ids."""
    listing = scoped_listing(session, accounts, listing_id)
    failed = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.aggregate_type == LISTING_AGGREGATE,
            OutboxMessage.aggregate_id == listing.id,
            OutboxMessage.account_id == listing.account_id,
            OutboxMessage.status == "failed",
        )
    ).all()
    retried: list[int] = []
    for message_id in failed:
        retried.extend(outbox.retry(session, message_id, account_id=listing.account_id))
    return retried
