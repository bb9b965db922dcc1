"""The sandbox reads a hub listing at delivery time, as the real connectors do: the pushes queued for a listing
are delivered by one call carrying its latest state (status and discount included), while pushes for listings
the hub does not have are applied one by one, as they came."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext
from alephee.marketplaces.delivery import DELIVERED
from alephee.marketplaces.models import OutboxMessage, SandboxEvent, SandboxListing
from alephee.marketplaces.topics import listing_push
from alephee.sandbox.channel import SandboxChannel
from alephee.sync.calls import channel_for
from alephee.sync.worker import Worker
from tests.fixtures.listings import Shop
from tests.fixtures.marketplaces import put

NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
SANDBOX = 100


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert all(r["Status"] == 200 for r in response.json().get("Results", [])), response.text


def stock(client: TestClient, shop: Shop, quantity: int) -> None:
    _ok(
        client.post("/v2/products", params=shop.tenant.q(), json=[{"SKU": "MKNJ-122", "Stock": {"Quantity": quantity}}])
    )


def queued(ctx: AppContext, listing_id: int) -> list[tuple[int, str, str]]:
    """(id, topic, status) of the outbox rows of a listing, oldest first."""
    with ctx.db.reading() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.status)
            .where(OutboxMessage.aggregate_type == "listing", OutboxMessage.aggregate_id == listing_id)
            .order_by(OutboxMessage.id)
        )
        return [(i, t, s) for i, t, s in rows]


def applied(ctx: AppContext, external_id: str) -> list[tuple[int | None, str, str]]:
    """(outbox row, kind, result) of what the sandbox recorded for a listing, in order."""
    with ctx.db.reading() as session:
        rows = session.execute(
            select(SandboxEvent.message_id, SandboxEvent.kind, SandboxEvent.result)
            .where(SandboxEvent.ref == external_id)
            .order_by(SandboxEvent.id)
        )
        return [(m, k, r) for m, k, r in rows]


def on_sandbox(ctx: AppContext, external_id: str) -> SandboxListing:
    with ctx.db.reading() as session:
        row = session.scalar(select(SandboxListing).where(SandboxListing.external_id == external_id))
        assert row is not None
        return row


def test_queued_stock_changes_reach_the_sandbox_in_one_delivery(
    client: TestClient, ctx: AppContext, shop: Shop, make_worker: Callable[..., Worker]
) -> None:
    lid, external = shop.listings[("MKNJ-122", SANDBOX)], shop.external[("MKNJ-122", SANDBOX)]
    make_worker().drain()
    published = len(applied(ctx, external))
    # Down to 0 (paused for stock) and back up: four pushes queued while the worker is away.
    for quantity in (7, 0, 5, 3):
        stock(client, shop, quantity)
    pending = [i for i, _, status in queued(ctx, lid) if status != DELIVERED]
    assert len(pending) == 4
    make_worker().drain()
    assert {status for *_, status in queued(ctx, lid)} == {DELIVERED}
    # One call, by the oldest row, carrying the latest state.
    assert applied(ctx, external)[published:] == [(pending[0], "listing.update", "applied")]
    row = on_sandbox(ctx, external)
    assert (row.available_quantity, row.status, row.last_message_id) == (3, "active", pending[0])
    with ctx.db.reading() as session:
        hub = session.get(Listing, lid)
        assert hub is not None and hub.available_quantity == row.available_quantity == 3


def test_a_discount_queued_with_a_stock_change_is_not_lost(
    client: TestClient, ctx: AppContext, shop: Shop, make_worker: Callable[..., Worker]
) -> None:
    external = shop.external[("MKNJ-122", SANDBOX)]
    start, finish = NOW - timedelta(hours=1), NOW + timedelta(days=2)
    window = {"StartDate": start.isoformat(), "FinishDate": finish.isoformat()}
    discount = [{"SKU": "MKNJ-122", "Marketplace": SANDBOX, "DiscountPercent": 10, **window}]
    with clock.frozen(NOW):
        make_worker().drain()
        published = len(applied(ctx, external))
        _ok(client.post("/v2/productlistings/discounts", params=shop.tenant.q(), json=discount))
        stock(client, shop, 4)
        make_worker().drain()
        # Both rows delivered by one call (the first, the discount's), which read the stock change too.
        assert len(applied(ctx, external)) == published + 1
        row = on_sandbox(ctx, external)
        assert (row.available_quantity, row.discount_percent) == (4, Decimal(10))
        assert (row.discount_start, row.discount_finish) == (start, finish)
    # Once the window is over, the next push carries no discount: the sandbox drops it.
    with clock.frozen(finish + timedelta(minutes=1)):
        stock(client, shop, 6)
        make_worker().drain()
        row = on_sandbox(ctx, external)
        assert (row.available_quantity, row.discount_percent, row.discount_start) == (6, None, None)


def test_queued_status_changes_deliver_the_latest_status(
    client: TestClient, ctx: AppContext, shop: Shop, make_worker: Callable[..., Worker]
) -> None:
    lid, external = shop.listings[("MKNJ-122", SANDBOX)], shop.external[("MKNJ-122", SANDBOX)]
    make_worker().drain()
    published = len(applied(ctx, external))
    for status in (2, 1, 2):
        body = [{"ExternalPublications": [external], "Status": status}]
        _ok(client.put("/v2/productlistings/update-status", params=shop.tenant.q(), json=body))
    statuses = [i for i, topic, status in queued(ctx, lid) if topic == "listing.status" and status != DELIVERED]
    assert len(statuses) == 3
    make_worker().drain()
    assert applied(ctx, external)[published:] == [(statuses[0], "listing.status", "applied")]
    row = on_sandbox(ctx, external)
    assert (row.status, row.sub_status) == ("paused", "user")


def test_pushes_for_a_listing_the_hub_does_not_have_are_applied_one_by_one(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    ids = [put(ctx, aggregate_id=900, payload={"listing_id": 900, "quantity": q, "price": "10"}) for q in (1, 2, 3)]
    make_worker().drain()
    external = on_sandbox(ctx, "MLA1000000900").external_id
    assert applied(ctx, external) == [(i, "listing.update", "applied") for i in ids]
    assert on_sandbox(ctx, external).available_quantity == 3


def test_only_a_fresh_application_of_the_hub_listing_covers_the_queue(ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", SANDBOX)]

    def deliver(message_id: int, listing_id: int) -> bool:
        with ctx.db.writing() as session:
            channel, base = channel_for(session, SANDBOX, account_id=shop.tenant.account_id)
            assert isinstance(channel, SandboxChannel)
            c = ChannelContext(
                account_id=shop.tenant.account_id, marketplace=base.marketplace, session=session, message_id=message_id
            )
            return channel.publish_listing(c, listing_push({"listing_id": listing_id, "quantity": 1})).covers_queued

    assert deliver(10_000, lid) is True
    assert deliver(10_000, lid) is False  # the same row again: already applied
    assert deliver(9_000, lid) is False  # older than the last applied: stale
    assert deliver(10_001, 901) is False  # not the hub's: applied as it came
