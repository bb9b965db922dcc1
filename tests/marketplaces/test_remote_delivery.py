"""Delivery through remote channels that read the listing at delivery time: queued pushes of one listing are
delivered by the latest one, the id a marketplace gives a new listing is stored, and a held connection keeps
its rows waiting without using up their attempts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alephee import clock
from alephee.http.context import AppContext
from alephee.listings import publish
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX, record_marketplace_id
from alephee.marketplaces.contract import (
    BaseChannel,
    ChannelContext,
    ConnectionHeld,
    ListingPush,
    ListingReceipt,
)
from alephee.marketplaces.delivery import DELIVERED, PENDING
from alephee.marketplaces.models import OutboxMessage
from alephee.sync.worker import Worker
from tests.fixtures.marketplaces import put
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant


@dataclass
class StateChannel(BaseChannel):
    """Sends a listing's current state (as a real remote connector does) and answers a marketplace id."""

    connector: str = "sandbox"
    in_database: bool = False
    sends_current_state: bool = True
    assigns_listing_ids: bool = True
    held: bool = False
    covers: bool = True
    sent: list[tuple[int | None, int | None]] = field(default_factory=list)
    contexts: list[ChannelContext] = field(default_factory=list)

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        if self.held:
            raise ConnectionHeld("the seller's connection is disconnected")
        self.sent.append((listing.listing_id, ctx.message_id))
        self.contexts.append(ctx)
        external_id = f"MLA{9_000_000_000 + (listing.listing_id or 0)}"
        return ListingReceipt(external_id=external_id, status="active", covers_queued=self.covers)


def outbox(ctx: AppContext) -> dict[int, OutboxMessage]:
    with ctx.db.reading() as session:
        return {row.id: row for row in session.scalars(select(OutboxMessage))}


def test_queued_pushes_of_one_listing_are_delivered_by_one_call(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = StateChannel()
    use_channel("sandbox", channel)
    first = [put(ctx, aggregate_id=7, payload={"listing_id": 7, "quantity": q}) for q in range(10)]
    other = put(ctx, aggregate_id=8, payload={"listing_id": 8, "quantity": 1})
    stats = make_worker().drain()
    rows = outbox(ctx)
    assert all(rows[i].status == DELIVERED for i in [*first, other])
    # One call for listing 7 (its first row, reading the latest state) and one for listing 8.
    assert channel.sent == [(7, first[0]), (8, other)]
    assert stats.claimed == 2
    # The channel got the hub's database and settings to read the state and the tokens with.
    assert channel.contexts[0].db is not None and channel.contexts[0].settings is not None


@pytest.mark.parametrize(
    "kind",
    [{"sends_current_state": False}, {"covers": False}],
    ids=["channel-sends-the-payload", "receipt-without-the-current-state"],
)
def test_pushes_are_not_coalesced_unless_the_current_state_was_sent(
    ctx: AppContext,
    make_worker: Callable[..., Worker],
    use_channel: Callable[[str, Any], None],
    kind: dict[str, bool],
) -> None:
    channel = StateChannel(**kind)
    use_channel("sandbox", channel)
    ids = [put(ctx, aggregate_id=7, payload={"listing_id": 7, "quantity": q}) for q in range(3)]
    make_worker().drain()
    assert channel.sent == [(7, i) for i in ids]
    assert all(outbox(ctx)[i].status == DELIVERED for i in ids)


def test_a_held_connection_keeps_rows_pending_without_spending_attempts(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = StateChannel(held=True)
    use_channel("sandbox", channel)
    worker = make_worker(outbox_max_attempts=2, outbox_held_retry_seconds=30)
    message_id = put(ctx, aggregate_id=3, payload={"listing_id": 3, "quantity": 1})
    for _ in range(5):
        assert worker.run_once().retried == 1
        held = outbox(ctx)[message_id]
        assert held.status == PENDING and held.attempts == 0
        assert "disconnected" in (held.last_error or "")
        clock.advance(timedelta(seconds=31))
    channel.held = False
    assert worker.run_once().delivered == 1
    assert outbox(ctx)[message_id].attempts == 1


def test_a_new_listing_waits_for_the_id_its_marketplace_gives(
    ctx: AppContext,
    make_worker: Callable[..., Worker],
    use_channel: Callable[[str, Any], None],
    make_tenant: Callable[..., Tenant],
) -> None:
    use_channel("sandbox", StateChannel())
    tenant = make_tenant(marketplaces=(100,))
    with ctx.db.writing() as session:
        prices = add_price_list(session, tenant.account_id, "General")
        product = add_product(session, tenant.account_id, "SKU-1", quantity=4, prices={prices: "100"})
        (listing,) = publish.publish_products(session, tenant.account_id, [publish.PublishSpec(product, 100)])
        listing_id = listing.id
        # Not invented by the hub: the marketplace names it.
        assert listing.external_id.startswith(PENDING_PREFIX)
    make_worker().drain()
    with ctx.db.writing() as session:
        stored = session.get(Listing, listing_id)
        assert stored is not None and stored.external_id == f"MLA{9_000_000_000 + listing_id}"
        # A later answer never replaces an id the marketplace gave.
        record_marketplace_id(session, tenant.account_id, listing_id, "MLA1", None)
    with ctx.db.reading() as session:
        assert session.scalar(select(Listing.external_id).where(Listing.id == listing_id)) == stored.external_id


@dataclass
class SlowChannel(BaseChannel):
    """A remote channel that takes a while to answer, and notes how many calls it had in flight at once."""

    connector: str = "sandbox"
    in_database: bool = False
    active: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
        return ListingReceipt(external_id=f"X{listing.listing_id}", status="active")


def test_a_batch_is_delivered_by_several_senders_at_once_in_order_per_listing(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = SlowChannel()
    use_channel("sandbox", channel)
    ids = [put(ctx, aggregate_id=n % 6, payload={"listing_id": n % 6, "quantity": n}) for n in range(18)]
    stats = make_worker(outbox_delivery_concurrency=6).drain()
    rows = outbox(ctx)
    assert stats.delivered == 18 and all(rows[i].status == DELIVERED for i in ids)
    # Six listings at a time, and never two rows of one listing at once (each listing's rows in id order).
    assert channel.most > 1
    for listing in range(6):
        mine = sorted((rows[i].delivered_at, i) for i in ids if rows[i].aggregate_id == listing)
        assert [i for _, i in mine] == sorted(i for _, i in mine)
