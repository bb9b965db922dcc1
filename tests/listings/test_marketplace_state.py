"""The item as the marketplace last showed it, kept in a table of its own (one copy per listing): the newer
version wins, an empty state forgets it, other accounts' listings are left alone, and keeping it never writes the
listing row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.listings.marketplace_state import keep_state, keep_states, kept_states, remember_states
from alephee.listings.models import KeptState, Listing
from tests.fixtures.listings import Shop

OLD = {"version": "2026-12-04T13:00:00.000000+00:00", "id": "MLA1", "available_quantity": 5}
NEW = {"version": "2026-12-04T13:00:01.000000+00:00", "id": "MLA1", "available_quantity": 3}
# Same version, another reading of it (the push's answer and the notification's read of one item version).
NEW_AGAIN = {**NEW, "available_quantity": 4}
LATER = {"version": "2026-12-04T13:00:02.000000+00:00", "id": "MLA1", "available_quantity": 1}


def _kept(ctx: AppContext, listing_id: int) -> dict[str, Any] | None:
    with ctx.db.reading() as session:
        return kept_states(session, [listing_id]).get(listing_id)


def _keep(ctx: AppContext, listing_id: int, state: dict[str, Any] | None) -> bool:
    with ctx.db.writing() as session:
        return keep_state(session, listing_id, state)


def test_the_newer_version_wins_and_an_empty_state_forgets(ctx: AppContext, shop: Shop) -> None:
    listing_id = next(iter(shop.listings.values()))
    assert _keep(ctx, listing_id, None) is False and _kept(ctx, listing_id) is None
    assert _keep(ctx, listing_id, {}) is False  # nothing to forget
    assert _keep(ctx, listing_id, OLD) is True and _kept(ctx, listing_id) == OLD
    assert _keep(ctx, listing_id, NEW) is True and _kept(ctx, listing_id) == NEW
    # A notification read before the push but applied after it brings no older state back.
    assert _keep(ctx, listing_id, OLD) is False and _kept(ctx, listing_id) == NEW
    assert _keep(ctx, listing_id, NEW) is False
    assert _keep(ctx, listing_id, NEW_AGAIN) is True and _kept(ctx, listing_id) == NEW_AGAIN
    assert _keep(ctx, listing_id, {}) is True and _kept(ctx, listing_id) is None
    assert _keep(ctx, listing_id, {}) is False
    assert _keep(ctx, listing_id, OLD) is True and _kept(ctx, listing_id) == OLD
    # A copy without a version is older than any other.
    assert _keep(ctx, listing_id, {"id": "MLA1"}) is False and _kept(ctx, listing_id) == OLD


def test_many_copies_at_once_each_by_its_own_version(ctx: AppContext, shop: Shop) -> None:
    first, second, third = sorted(shop.listings.values())[:3]
    assert _keep(ctx, first, NEW) and _keep(ctx, second, OLD)
    with ctx.db.writing() as session:
        stored = keep_states(session, {third: OLD, second: LATER, first: OLD})
    assert stored == 2
    with ctx.db.reading() as session:
        assert kept_states(session, [first, second, third]) == {first: NEW, second: LATER, third: OLD}
        assert kept_states(session, []) == {}


def test_the_listing_reads_its_copy_and_keeping_it_leaves_the_listing_row_alone(ctx: AppContext, shop: Shop) -> None:
    listing_id = next(iter(shop.listings.values()))
    with ctx.db.reading() as session:
        before = session.execute(select(Listing.updated_at, Listing.status).where(Listing.id == listing_id)).one()
    with ctx.db.writing() as session:
        listing = session.get(Listing, listing_id)
        assert listing is not None and listing.marketplace_state is None
        assert keep_state(session, listing_id, NEW)
        # The copy already loaded by this session is refreshed.
        assert listing.marketplace_state == NEW
        assert keep_state(session, listing_id, LATER)
        assert listing.marketplace_state == LATER
    with ctx.db.reading() as session:
        after = session.execute(select(Listing.updated_at, Listing.status).where(Listing.id == listing_id)).one()
        assert after == before
        copy = session.get(KeptState, listing_id)
        assert copy is not None and copy.version == LATER["version"]


def test_a_push_answer_is_kept_only_on_the_accounts_own_listing(ctx: AppContext, shop: Shop) -> None:
    listing_id = next(iter(shop.listings.values()))
    with ctx.db.writing() as session:
        assert remember_states(session, shop.tenant.account_id + 1000, {listing_id: NEW}) == 0
        assert remember_states(session, shop.tenant.account_id, {}) == 0
    assert _kept(ctx, listing_id) is None
    with ctx.db.writing() as session:
        assert remember_states(session, shop.tenant.account_id, {listing_id: NEW}) == 1
    assert _kept(ctx, listing_id) == NEW


def test_deleting_the_listing_deletes_its_copy(ctx: AppContext, shop: Shop) -> None:
    listing_id = next(iter(shop.listings.values()))
    assert _keep(ctx, listing_id, NEW)
    with ctx.db.writing() as session:
        listing = session.get(Listing, listing_id)
        assert listing is not None
        session.delete(listing)
    with ctx.db.reading() as session:
        assert session.get(KeptState, listing_id) is None
