"""The item as the marketplace last showed it, kept in a table of its own (one copy per listing): the newer
version wins, an empty state forgets it, other accounts' listings are left alone, and keeping it never writes the
listing row: neither an echo of a push that changes nothing nor a push's answer (``apply_listing_states``,
``record_answers``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.listings.marketplace_state import keep_state, keep_states, kept_states, remember_states
from alephee.listings.models import KeptState, Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.marketplaces.contract import ListingReceipt, ListingState
from alephee.marketplaces.delivery import OutboxItem
from alephee.sync.inbox import apply_listing_states
from alephee.sync.senders import record_answers
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


def _listing_row(ctx: AppContext, listing_id: int) -> tuple[Any, ...]:
    with ctx.db.reading() as session:
        return tuple(
            session.execute(
                select(Listing.status, Listing.sold_quantity, Listing.external_id, Listing.updated_at).where(
                    Listing.id == listing_id
                )
            ).one()
        )


def test_an_echo_that_changes_nothing_keeps_only_the_copy(ctx: AppContext, shop: Shop) -> None:
    (sku, marketplace), listing_id = next(iter(shop.listings.items()))
    external = shop.external[(sku, marketplace)]
    with ctx.db.writing() as session:
        listing = session.get(Listing, listing_id)
        assert listing is not None
        listing.status, listing.status_reason, listing.sold_quantity = "active", None, 2
    before = _listing_row(ctx, listing_id)
    echo = ListingState(external_id=external, status="active", sold_quantity=2, marketplace_state=NEW)
    older = ListingState(external_id=external, status="active", sold_quantity=2, marketplace_state=OLD)
    with ctx.db.writing() as session:
        changed = apply_listing_states(session, shop.tenant.account_id, marketplace, [echo, older])
    assert changed == 0 and _listing_row(ctx, listing_id) == before and _kept(ctx, listing_id) == NEW
    # A state that changes the listing's own fields writes it, and its copy is kept too.
    paused = ListingState(external_id=external, status="paused", sold_quantity=3, marketplace_state=LATER)
    unknown = ListingState(external_id="MLA999", status="paused", marketplace_state=LATER)
    with ctx.db.writing() as session:
        changed = apply_listing_states(session, shop.tenant.account_id, marketplace, [paused, unknown])
    assert changed == 1
    status, sold, _external, _updated = _listing_row(ctx, listing_id)
    assert (status, sold) == ("paused", 3) and _kept(ctx, listing_id) == LATER


def _delivered(shop: Shop, listing_id: int, row: int) -> OutboxItem:
    return OutboxItem(
        id=row,
        account_id=shop.tenant.account_id,
        marketplace_id=None,
        topic="listing.update",
        aggregate_type="listing",
        aggregate_id=listing_id,
        payload={},
        attempts=1,
        created_at=utcnow(),
    )


def test_recording_answers_writes_only_a_listing_waiting_for_its_id(ctx: AppContext, shop: Shop) -> None:
    published, waiting = sorted(shop.listings.values())[:2]
    with ctx.db.writing() as session:
        listing = session.get(Listing, waiting)
        assert listing is not None
        listing.external_id = f"{PENDING_PREFIX}{waiting}"
    before = _listing_row(ctx, published)
    known = before[2]
    answers = [
        (_delivered(shop, published, 1), ListingReceipt(external_id=known, status="active", state=OLD)),
        (_delivered(shop, waiting, 2), ListingReceipt(external_id="MLA777", status="active", state=NEW)),
        (_delivered(shop, published, 3), ListingReceipt(external_id=known, status="active", state=LATER)),
        (_delivered(shop, published, 4), RuntimeError("not an answer")),
    ]
    with ctx.db.writing() as session:
        record_answers(session, answers)
    assert _listing_row(ctx, published) == before
    assert _listing_row(ctx, waiting)[2] == "MLA777"
    # Of two answers for one item the later version is kept.
    assert _kept(ctx, published) == LATER and _kept(ctx, waiting) == NEW
