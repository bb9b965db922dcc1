"""``propagation.refresh`` writes the changed listings with one statement and queues their outbox rows with
one: the rows hold what the objects hold, the session has nothing left to write, and the outbox keeps each
listing's order (rows the session still held come first)."""

from __future__ import annotations

from sqlalchemy import select, update

from alephee.http.context import AppContext
from alephee.listings import propagation, statuses
from alephee.listings.models import Listing
from alephee.marketplaces.models import OutboxMessage
from alephee.marketplaces.outbox import Outgoing, enqueue, enqueue_many
from alephee.products.models import Product
from alephee.webhooks.models import WebhookEvent
from tests.fixtures.listings import Shop, listing, outbox


def test_refresh_writes_each_changed_listing_and_leaves_nothing_to_flush(ctx: AppContext, shop: Shop) -> None:
    pid = shop.products["MKNJ-122"]
    ids = sorted(lid for (sku, _), lid in shop.listings.items() if sku == "MKNJ-122")
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == pid).values(quantity=0))
        rows = propagation.lock_listings(session, select(Listing).where(Listing.product_id == pid))
        changed = propagation.refresh(session, shop.tenant.account_id, rows)
        assert changed == set(ids)
        assert not any(row in session.dirty for row in rows)
        held = {row.id: (row.status, row.status_reason, row.available_quantity, row.updated_at) for row in rows}
    for lid in ids:
        stored = listing(ctx, lid)
        assert (stored.status, stored.status_reason, stored.available_quantity, stored.updated_at) == held[lid]
        assert (stored.status, stored.status_reason, stored.available_quantity) == (
            statuses.PAUSED,
            statuses.REASON_STOCK,
            0,
        )
        topic, payload = outbox(ctx, lid)[-1]
        assert topic == "listing.update" and (payload["status"], payload["quantity"]) == ("paused", 0)
    with ctx.db.reading() as session:
        events = [
            e
            for e in session.scalars(select(WebhookEvent).where(WebhookEvent.type == "listing.status_changed"))
            if e.data["ListingId"] in ids
        ]
    assert sorted(e.data["ListingId"] for e in events) == ids
    assert {e.data["PreviousStatus"] for e in events} == {statuses.ACTIVE}


def test_rows_queued_together_follow_the_rows_the_session_holds(ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    account = shop.tenant.account_id
    before = len(outbox(ctx, lid))
    with ctx.db.writing() as session:
        enqueue(
            session,
            account_id=account,
            topic="listing.status",
            aggregate_type="listing",
            aggregate_id=lid,
            payload={"n": 1},
        )
        enqueue_many(
            session,
            [
                Outgoing(account, "listing.update", "listing", lid, {"n": 2, "text": 'ñ "quoted"'}, 100),
                Outgoing(account, "listing.update", "listing", lid, {"n": 3}, 100),
            ],
        )
    rows = outbox(ctx, lid)[before:]
    assert [(topic, payload["n"]) for topic, payload in rows] == [
        ("listing.status", 1),
        ("listing.update", 2),
        ("listing.update", 3),
    ]
    assert rows[1][1]["text"] == 'ñ "quoted"'
    with ctx.db.reading() as session:
        stored = session.scalars(
            select(OutboxMessage).where(OutboxMessage.aggregate_id == lid).order_by(OutboxMessage.id.desc()).limit(1)
        ).one()
    assert (stored.status, stored.attempts, stored.marketplace_id) == ("pending", 0, 100)
    assert stored.available_at is not None and stored.created_at == stored.available_at
