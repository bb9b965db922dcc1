"""A listing's state as the marketplace shows it (read after a notification, or while linking the seller's
listings): the marketplace's status and sub-status become the hub's status and pause reason and its sales count
replace the hub's copy; its quantity and price only when linking (afterwards the hub's catalog is what they
follow, and a notification read late must not undo a newer change). Nothing is sent back: this is the
marketplace's own news.

The channel's own copy of the item (``KeptState``, read as ``Listing.marketplace_state``) is kept from both sides,
a push's answer and a notification's read, the newer one winning (``keep_states``): the next push compares with
it instead of reading the item first. It lives in a table of its own, so keeping it never writes the listing row
(nor waits for the catalog's writers, who hold that row while they refresh it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from alephee import clock
from alephee.listings import events as webhook_events
from alephee.listings import statuses
from alephee.listings.models import KeptState, Listing
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


def state_version(state: dict[str, Any]) -> str:
    """A kept state's version as text (empty when it has none: older than any other)."""
    return str(state.get(STATE_VERSION) or "")


def _dialect_insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _forget_loaded(session: Session, listing_ids: Collection[int]) -> None:
    """Expire the copies (and the listings' link to them) this session already loaded: the upsert wrote
    around the identity map."""
    for listing_id in listing_ids:
        copy = session.identity_map.get(identity_key(KeptState, (listing_id,)))
        if copy is not None:
            session.expire(copy)
        listing = session.identity_map.get(identity_key(Listing, (listing_id,)))
        if listing is not None:
            session.expire(listing, ["kept"])


def keep_states(session: Session, states: Mapping[int, dict[str, Any] | None]) -> int:
    """Keep the marketplace's state of each item (listing id → state) unless the kept one is newer: a
    notification read before a push but applied after it must not bring back the older state. A copy is replaced
    by one of the same or a later ``version`` that differs; a copy without a version is older than any other; an
    empty state forgets the kept one (the channel could not tell the item's state); None keeps what is stored.
    One upsert for all of them, in listing id order (the order every writer of several copies takes them in), and
    the listing rows are never written. How many copies were stored or forgotten."""
    given = {listing_id: state for listing_id, state in states.items() if state is not None}
    if not given:
        return 0
    forgotten = sorted(listing_id for listing_id, state in given.items() if not state)
    now = clock.utcnow()
    rows = [
        {"listing_id": listing_id, "version": state_version(state), "state": state, "updated_at": now}
        for listing_id, state in sorted(given.items())
        if state
    ]
    count = 0
    if forgotten:
        count += session.execute(
            delete(KeptState).where(KeptState.listing_id.in_(forgotten)).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if rows:
        stmt = _dialect_insert(session)(KeptState).values(rows)
        newer = or_(
            KeptState.version < stmt.excluded.version,
            and_(KeptState.version == stmt.excluded.version, KeptState.state != stmt.excluded.state),
        )
        stored = session.scalars(
            stmt.on_conflict_do_update(
                index_elements=[KeptState.listing_id],
                set_={
                    "version": stmt.excluded.version,
                    "state": stmt.excluded.state,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=newer,
            ).returning(KeptState.listing_id)
        ).all()
        count += len(stored)
    _forget_loaded(session, given)
    return count


def keep_state(session: Session, listing_id: int, state: dict[str, Any] | None) -> bool:
    """Keep one item's state on its listing (``keep_states``); whether anything was stored or forgotten."""
    return keep_states(session, {listing_id: state}) > 0


def kept_states(session: Session, listing_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The kept copies of these listings in one query (listing id → state; listings without one are absent)."""
    if not listing_ids:
        return {}
    rows = session.execute(select(KeptState.listing_id, KeptState.state).where(KeptState.listing_id.in_(listing_ids)))
    return {listing_id: state for listing_id, state in rows}


def remember_states(session: Session, account_id: int, states: Mapping[int, dict[str, Any]]) -> int:
    """Keep push answers (``ListingReceipt.state``: listing id → state) on the account's listings
    (``keep_states``); ids of other accounts' listings are ignored. How many copies were stored."""
    if not states:
        return 0
    own = set(
        session.scalars(select(Listing.id).where(Listing.id.in_(sorted(states)), Listing.account_id == account_id))
    )
    return keep_states(session, {listing_id: state for listing_id, state in states.items() if listing_id in own})


def listing_changes(listing: Listing, state: ListingState, *, linking: bool = False) -> dict[str, Any]:
    """What the marketplace's state changes on the hub's listing (attribute → new value): status and reason,
    sales, the page; quantity and price only when ``linking``. Empty when the listing already says it all."""
    changes: dict[str, Any] = {}
    target = hub_status(state)
    if target is not None:
        reason = pause_reason(state, listing) if target == statuses.PAUSED else None
        if (listing.status, listing.status_reason) != (target, reason):
            changes["status"], changes["status_reason"] = target, reason
    if linking and state.available_quantity is not None and listing.available_quantity != state.available_quantity:
        changes["available_quantity"] = state.available_quantity
    if state.sold_quantity is not None and listing.sold_quantity != state.sold_quantity:
        changes["sold_quantity"] = state.sold_quantity
    if linking and state.price is not None and listing.price != state.price:
        changes["price"] = state.price
    if state.permalink and listing.permanent_link != state.permalink:
        changes["permanent_link"] = state.permalink
    return changes


def apply_state(
    session: Session, listing: Listing, state: ListingState, *, now: datetime, linking: bool = False
) -> bool:
    """Copy the marketplace's state onto the hub's listing (``listing_changes``); whether anything changed. A
    status change raises the ``listing.status_changed`` webhook event. The item's copy is not kept here
    (``keep_states`` does, for many at once): only the listing's own fields are written."""
    changes = listing_changes(listing, state, linking=linking)
    if not changes:
        return False
    previous = listing.status
    for name, value in changes.items():
        setattr(listing, name, value)
    if "status" in changes:
        listing.status_updated_at = now
    listing.updated_at = now
    session.flush()
    if listing.status != previous:
        webhook_events.listing_status_changed(session, listing, previous)
    return True
