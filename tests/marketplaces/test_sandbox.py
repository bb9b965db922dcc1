"""The sandbox marketplace: what it keeps of each push, its rules, its clock and its order feed."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.contract import (
    BuyerMessage,
    ChannelContext,
    DocumentUpload,
    LabelRequest,
    ListingStatusPush,
    OrderRef,
    OrderStatusPush,
    PermanentDeliveryError,
    SplitRequest,
)
from alephee.marketplaces.models import SandboxEvent, SandboxListing, SandboxOrder
from alephee.marketplaces.topics import listing_push
from alephee.sandbox import state as sandbox
from alephee.sandbox.channel import SandboxChannel
from alephee.sync.calls import channel_for

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@contextmanager
def call(
    ctx: AppContext, message_id: int | None = None, marketplace: int = 100
) -> Iterator[tuple[SandboxChannel, ChannelContext, Session]]:
    """A sandbox call inside one committed transaction, as the worker makes it."""
    with ctx.db.writing() as session:
        channel, base = channel_for(session, marketplace, account_id=1)
        assert isinstance(channel, SandboxChannel)
        yield (
            channel,
            ChannelContext(account_id=1, marketplace=base.marketplace, session=session, message_id=message_id),
            session,
        )


def listing(ctx: AppContext, external_id: str = "MLA1000000001") -> SandboxListing:
    with ctx.db.reading() as session:
        row = session.scalar(select(SandboxListing).where(SandboxListing.external_id == external_id))
        assert row is not None
        return row


def new_order(ctx: AppContext, external: str = "2000001", **fields: object) -> None:
    with ctx.db.writing() as session:
        sandbox.create_order(
            session,
            account_id=1,
            marketplace_id=100,
            external_order_id=external,
            items=[
                {"external_listing_id": "MLA1000000001", "quantity": 2, "unit_price": Decimal("150.25"), "sku": "A"}
            ],
            payments=[{"id": f"p{external}", "status": "approved", "amount": Decimal("300.50"), "date_approved": T0}],
            buyer={"nickname": "COMPRADOR1"},
            shipping_address={
                "receiver_name": "Ana Pérez",
                "street": "Corrientes 1234",
                "city": "CABA",
                "zip_code": "1043",
            },
            **fields,  # type: ignore[arg-type]
        )


def test_publish_then_update_keeps_the_marketplace_view(ctx: AppContext) -> None:
    with call(ctx, 10) as (channel, c, _):
        receipt = channel.publish_listing(
            c,
            listing_push(
                {"listing_id": 1, "sku": "A", "title": "Mate", "price": "1500.5", "quantity": 3, "status": "active"}
            ),
        )
    # No external id sent: the sandbox derives one from the site and the hub id.
    assert receipt.external_id == "MLA1000000001" == sandbox.external_listing_id("MLA", 1)
    row = listing(ctx)
    assert (row.price, row.available_quantity, row.status, row.last_message_id) == (
        Decimal("1500.5000"),
        3,
        "active",
        10,
    )

    # Stock to zero: Mercado Libre shows an active item without stock as paused/out_of_stock.
    with call(ctx, 11) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "quantity": 0}))
    row = listing(ctx)
    assert (row.status, row.sub_status, row.seller_status, row.price) == (
        "paused",
        "out_of_stock",
        "active",
        Decimal("1500.5000"),
    )

    # An older push (a failed row re-queued later) never rolls the listing back.
    with call(ctx, 9) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "quantity": 50, "price": "1"}))
    row = listing(ctx)
    assert row.available_quantity == 0 and row.price == Decimal("1500.5000")
    with ctx.db.reading() as session:
        results = list(session.scalars(select(SandboxEvent.result).order_by(SandboxEvent.id)))
    assert results == ["applied", "applied", "stale"]


def test_the_same_outbox_row_is_applied_once(ctx: AppContext) -> None:
    for _ in range(2):
        with call(ctx, 42) as (channel, c, _):
            channel.publish_listing(c, listing_push({"listing_id": 1, "quantity": 5}))
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(SandboxEvent)) == 1


def test_listing_status_and_closed_is_final(ctx: AppContext) -> None:
    with call(ctx, 1) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "external_id": "MLA77", "quantity": 2}))
    with call(ctx, 2) as (channel, c, _):
        assert channel.set_listing_status(c, ListingStatusPush(status="paused", external_id="MLA77")).status == "paused"
    with call(ctx, 3) as (channel, c, _):
        channel.set_listing_status(c, ListingStatusPush(status="closed", listing_id=1))
    assert listing(ctx, "MLA77").status == "closed"
    with pytest.raises(PermanentDeliveryError, match="cannot be reopened"), call(ctx, 4) as (channel, c, _):
        channel.set_listing_status(c, ListingStatusPush(status="active", listing_id=1))
    # Stock updates for a finished item are acknowledged and ignored.
    with call(ctx, 5) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "external_id": "MLA77", "quantity": 9}))
    assert listing(ctx, "MLA77").available_quantity == 2
    with pytest.raises(PermanentDeliveryError, match="not published"), call(ctx, 6) as (channel, c, _):
        channel.set_listing_status(c, ListingStatusPush(status="paused", external_id="MLA-nope"))


def test_order_status_moves_seller_driven_shipments_and_learns_the_hub_id(ctx: AppContext) -> None:
    new_order(ctx, "2000001", logistic_type="self_service")
    with call(ctx, 1) as (channel, c, _):
        channel.push_order_status(
            c,
            OrderStatusPush(
                order=OrderRef(order_id=55, external_order_id="2000001"),
                status=20,
                tracking_number="TRK1",
                carrier="Correo",
            ),
        )
    with call(ctx, 2) as (channel, c, _):
        # Later pushes may name the order by the hub id only.
        channel.push_order_status(c, OrderStatusPush(order=OrderRef(order_id=55), status=80))
    with ctx.db.reading() as session:
        order = session.scalar(select(SandboxOrder))
        assert order is not None
        assert (order.hub_order_id, order.seller_status, order.tracking_number, order.carrier) == (
            55,
            80,
            "TRK1",
            "Correo",
        )
        assert order.shipping_status == "delivered"


def test_marketplace_driven_logistics_ignore_seller_shipping_but_not_cancellation(ctx: AppContext) -> None:
    new_order(ctx, "2000002", logistic_type="drop_off")
    with call(ctx, 1) as (channel, c, _):
        channel.push_order_status(c, OrderStatusPush(order=OrderRef(external_order_id="2000002"), status=20))
    with call(ctx, 2) as (channel, c, _):
        channel.push_order_status(c, OrderStatusPush(order=OrderRef(external_order_id="2000002"), status=90))
    with ctx.db.reading() as session:
        order = session.scalar(select(SandboxOrder))
        assert order is not None and order.seller_status == 90
        assert (order.status, order.shipping_status) == ("cancelled", "cancelled")


def test_status_for_an_order_the_sandbox_never_sold_creates_a_shadow(ctx: AppContext) -> None:
    with call(ctx, 1) as (channel, c, _):
        channel.push_order_status(c, OrderStatusPush(order=OrderRef(order_id=9), status=10))
    with ctx.db.reading() as session:
        order = session.scalar(select(SandboxOrder))
        assert order is not None and (order.external_order_id, order.hub_order_id, order.seller_status) == ("H9", 9, 10)


def test_documents_messages_and_unknown_orders(ctx: AppContext) -> None:
    new_order(ctx)
    ref = OrderRef(external_order_id="2000001")
    with call(ctx, 1) as (channel, c, _):
        assert channel.upload_document(c, DocumentUpload(order=ref, document_type=0, document_number="A-1")).forwarded
    with call(ctx, 2) as (channel, c, _):
        assert not channel.upload_document(c, DocumentUpload(order=ref, document_type=1)).forwarded
    with call(ctx, 3) as (channel, c, _):
        # A Brazilian fiscal invoice is not forwarded by a site outside Brazil...
        assert not channel.upload_document(c, DocumentUpload(order=ref, document_type=2)).forwarded
    with call(ctx, 4) as (channel, c, _):
        channel.send_buyer_message(c, BuyerMessage(order=ref, message_option=4, text="Sale hoy"))
    with pytest.raises(PermanentDeliveryError), call(ctx, 5) as (channel, c, _):
        channel.send_buyer_message(c, BuyerMessage(order=ref, message_option=4, text="x" * 351))
    with pytest.raises(PermanentDeliveryError), call(ctx, 6) as (channel, c, _):
        channel.send_buyer_message(c, BuyerMessage(order=OrderRef(external_order_id="nope"), message_option=4))
    with ctx.db.reading() as session:
        events = session.execute(select(SandboxEvent.kind, SandboxEvent.result).order_by(SandboxEvent.id)).all()
    assert events == [
        ("order.document", "applied"),
        ("order.document", "not_forwarded"),
        ("order.document", "not_forwarded"),
        ("order.message", "applied"),
    ]


def test_labels_in_every_format_are_reproducible_and_mark_the_shipment_printed(ctx: AppContext) -> None:
    with clock.frozen(T0):
        new_order(ctx)
    ref = OrderRef(external_order_id="2000001")
    labels = {}
    for fmt in ("TXT", "PDF", "ZIP"):
        with call(ctx) as (channel, c, _):
            labels[fmt] = channel.fetch_label(c, LabelRequest(order=ref, format=fmt))
    assert labels["TXT"].content.startswith(b"^XA") and b"^BC" in labels["TXT"].content
    assert labels["PDF"].content.startswith(b"%PDF") and labels["PDF"].media_type == "application/pdf"
    names = zipfile.ZipFile(io.BytesIO(labels["ZIP"].content)).namelist()
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["pdf", "txt"]
    with call(ctx) as (channel, c, _):
        again = channel.fetch_label(c, LabelRequest(order=ref, format="ZIP"))
    assert again.content == labels["ZIP"].content
    with ctx.db.reading() as session:
        order = session.scalar(select(SandboxOrder))
        assert order is not None and (order.shipping_status, order.shipping_substatus) == ("ready_to_ship", "printed")
    with pytest.raises(PermanentDeliveryError), call(ctx) as (channel, c, _):
        channel.fetch_label(c, LabelRequest(order=ref, format="DOCX"))


def test_split_moves_an_order_of_a_cart_to_its_own_pack_and_shipment(ctx: AppContext) -> None:
    new_order(ctx, "3001", pack_id="PACK1", pack_size=2)
    new_order(ctx, "3002", pack_id="PACK1", pack_size=2)
    new_order(ctx, "3003")
    with call(ctx, 1) as (channel, c, _):
        result = channel.split_shipment(c, SplitRequest(order=OrderRef(external_order_id="3002"), split_reason_id=1))
    assert result.pack_id not in (None, "PACK1") and result.external_shipping_id
    with ctx.db.reading() as session:
        rows = {o.external_order_id: o for o in session.scalars(select(SandboxOrder))}
    assert (rows["3002"].pack_id, rows["3002"].pack_size) == (result.pack_id, 1)
    assert (rows["3001"].pack_id, rows["3001"].pack_size) == ("PACK1", 1)
    with pytest.raises(PermanentDeliveryError, match="not part of a cart"), call(ctx, 2) as (channel, c, _):
        channel.split_shipment(c, SplitRequest(order=OrderRef(external_order_id="3003"), split_reason_id=2))
    with pytest.raises(PermanentDeliveryError, match="split reason"), call(ctx, 3) as (channel, c, _):
        channel.split_shipment(c, SplitRequest(order=OrderRef(external_order_id="3001"), split_reason_id=7))


def test_pull_orders_pages_changes_after_a_cursor(ctx: AppContext) -> None:
    for n in range(5):
        new_order(ctx, f"400{n}")
    with call(ctx) as (channel, c, _):
        first = channel.pull_orders(c, None, limit=3)
        second = channel.pull_orders(c, first.cursor, limit=3)
        empty = channel.pull_orders(c, second.cursor, limit=3)
    assert [o.external_order_id for o in first.orders] == ["4000", "4001", "4002"] and first.has_more
    assert [o.external_order_id for o in second.orders] == ["4003", "4004"] and not second.has_more
    assert empty.orders == () and empty.cursor == second.cursor
    order = first.orders[0]
    assert order.items[0].unit_price == Decimal("150.25") and order.items[0].quantity == 2
    assert order.total == Decimal("300.5000") and order.payments[0].status == "approved"
    assert order.payments[0].date_approved == T0 and order.buyer == {"nickname": "COMPRADOR1"}
    # A change (the hub pushing a status) brings the order back in the feed, after the cursor.
    with call(ctx, 1) as (channel, c, _):
        channel.push_order_status(c, OrderStatusPush(order=OrderRef(external_order_id="4001"), status=10))
    with call(ctx) as (channel, c, _):
        changed = channel.pull_orders(c, second.cursor)
        other_account = channel.pull_orders(
            ChannelContext(account_id=2, marketplace=c.marketplace, session=c.session), None
        )
    assert [o.external_order_id for o in changed.orders] == ["4001"]
    assert other_account.orders == ()


def test_simulated_clock_is_persistent_and_only_moves_forward(ctx: AppContext) -> None:
    with clock.frozen(T0):
        with ctx.db.writing() as session:
            assert sandbox.sandbox_now(session) == T0
            assert sandbox.advance(session, 5) == T0 + timedelta(hours=5)
        with ctx.db.writing() as session:
            assert sandbox.advance(session, 0.5) == T0 + timedelta(hours=5.5)
            summary = sandbox.summary(session)
            with pytest.raises(ValueError):
                sandbox.advance(session, -1)
    assert (
        summary["OffsetHours"] == 5.5 and summary["Seed"] == 1 and summary["SandboxNow"].startswith("2026-03-02T17:30")
    )
    # Orders and events are stamped with the simulated time.
    with clock.frozen(T0):
        new_order(ctx)
    with ctx.db.reading() as session:
        order = session.scalar(select(SandboxOrder))
        assert order is not None and order.date_created == T0 + timedelta(hours=5.5)


def test_discounts_apply_inside_their_window_and_can_be_removed(ctx: AppContext) -> None:
    window = {"discount_start": "2026-03-02T00:00:00Z", "discount_finish": "2026-03-05T00:00:00Z"}
    with call(ctx, 1) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "price": "1000", "quantity": 1}))
    with call(ctx, 2) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "price": "1000", "discount_percent": "15", **window}))
    row = listing(ctx)
    assert sandbox.buyer_price(row, T0) == Decimal("850.00")
    assert sandbox.buyer_price(row, T0 + timedelta(days=3)) == Decimal("1000.0000")
    assert sandbox.buyer_price(row, T0 - timedelta(days=1)) == Decimal("1000.0000")
    # A regular update keeps the discount; one about the discount that carries none removes it.
    with call(ctx, 3) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "quantity": 4, "changed": ["Quantity"]}))
    assert listing(ctx).discount_percent == Decimal("15.0000")
    with call(ctx, 4) as (channel, c, _):
        channel.publish_listing(c, listing_push({"listing_id": 1, "changed": ["Discount"]}))
    assert listing(ctx).discount_percent is None and sandbox.buyer_price(listing(ctx), T0) == Decimal("1000.0000")
