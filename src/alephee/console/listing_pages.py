"""The Listings page: the operator's listings filtered by marketplace, status and error, each with why it is
paused (no price, minimum stock, paused by the seller, the marketplace's refusal with its cause), a listing's
delivery history, and retrying its failed deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from alephee.console import listing_reads, web
from alephee.console.listing_reads import ListingFilters
from alephee.console.sessions import ConsoleViewer
from alephee.http.i18n import N_
from alephee.listings import statuses

PAUSE_REASONS = {
    listing_reads.PAUSE_NO_PRICE: N_("No price in the listing's price list"),
    listing_reads.PAUSE_MIN_STOCK: N_("Stock at or below the minimum to publish"),
    listing_reads.PAUSE_SELLER: N_("Paused by the seller"),
    listing_reads.PAUSE_MARKETPLACE: N_("Refused by the marketplace"),
}
STATUS_NAMES = {
    statuses.ACTIVE: N_("Active"),
    statuses.PAUSED: N_("Paused"),
    statuses.FINISHED: N_("Finished"),
    statuses.UNDER_REVIEW: N_("Under review"),
    statuses.INACTIVE: N_("Inactive"),
}
RETRIED = N_("Failed deliveries queued again")
NOTHING_TO_RETRY = N_("Nothing to retry: no failed delivery")

router = APIRouter()


def _text(request: Request, value: str | None) -> str | None:
    return None if value is None else web.translate(request, value)


def _filters(request: Request, viewer: ConsoleViewer) -> ListingFilters:
    query = request.query_params
    account = query.get("account")
    return ListingFilters(
        account_id=viewer.require(web.number(account) or None) if account else None,
        marketplace_id=web.number(query.get("marketplace")) or None,
        status=query.get("status") or None,
        error=query.get("error") or None,
        offset=(web.number(query.get("page"), 1, upper=web.MAX_PAGE) - 1) * listing_reads.PAGE_SIZE,
    )


@router.get("/listings")
def listings(request: Request) -> Response:
    """One page of the operator's listings that match the filters."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        filters = _filters(request, viewer)
        total, rows = listing_reads.find_listings(session, viewer.account_ids, filters)
        page = filters.offset // listing_reads.PAGE_SIZE + 1
        pages = max(1, -(-total // listing_reads.PAGE_SIZE))
        return web.render(
            request,
            "listings.html",
            viewer,
            section="listings",
            account_id=filters.account_id,
            filters=filters,
            total=total,
            rows=rows,
            page=page,
            pages=pages,
            statuses=STATUS_NAMES,
            status_name=lambda s: _text(request, STATUS_NAMES.get(s)) or s,
            reason_name=lambda r: _text(request, PAUSE_REASONS.get(r or "")),
        )

    return web.page(request, build)


@router.get("/listings/{listing_id}")
def listing(request: Request, listing_id: str) -> Response:
    """A listing with its pause reason and its deliveries."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        detail = listing_reads.listing_detail(session, viewer.account_ids, web.number(listing_id))
        return web.render(
            request,
            "listing.html",
            viewer,
            section="listings",
            account_id=detail.listing.account_id,
            detail=detail,
            deliveries=detail.deliveries,
            status_name=lambda s: _text(request, STATUS_NAMES.get(s)) or s,
            reason_name=lambda r: _text(request, PAUSE_REASONS.get(r or "")),
        )

    return web.page(request, build)


@router.post("/listings/{listing_id}/retry")
async def retry(request: Request, listing_id: str) -> Response:
    """Queue the listing's failed deliveries again (fresh attempts, due now)."""
    path = f"/listings/{web.number(listing_id)}"

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        retried = listing_reads.retry_listing(session, viewer.account_ids, web.number(listing_id))
        listing_row = listing_reads.scoped_listing(session, viewer.account_ids, web.number(listing_id))
        web.audit(
            request,
            session,
            viewer,
            "console.listings.retry",
            account_id=listing_row.account_id,
            query=f"listingId={listing_row.id}&retried={len(retried)}",
        )
        web.flash(request, session, viewer, RETRIED if retried else NOTHING_TO_RETRY, "ok" if retried else "error")
        return path

    return await web.action(request, act, failure_path=path)
