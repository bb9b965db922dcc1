"""The worker's inbox step with a channel written for the test: a notification is read through the channel and what
it read applied (orders once, listing states, the buyer's messages once); a notification arriving during the read
keeps the row pending; transient failures wait and retry, permanent ones fail the row."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from alephee import clock
from alephee.channels import inbox
from alephee.http.context import AppContext
from alephee.listings import statuses
from alephee.listings.models import Listing
from alephee.listings.publish import PublishSpec, publish_products
from alephee.marketplaces.contract import (
    ChannelMessage,
    ChannelOrder,
    ChannelOrderItem,
    ConnectionHeld,
    ListingState,
    NoticeResult,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.models import (
    NOTICE_DONE,
    NOTICE_FAILED,
    NOTICE_IN_FLIGHT,
    NOTICE_PENDING,
    ChannelNotification,
)
from alephee.marketplaces.registry import marketplace_ref
from alephee.orders import statuses as st
from alephee.orders.models import MESSAGE_FROM_BUYER, Order, OrderHistory, OrderMessage
from alephee.products.models import Product
from alephee.sync.order_feed import OrderSync, apply_orders
from alephee.sync.worker import Worker
from tests.channels.inbox_fakes import APPLICATION, FakeInbound, connect, notification, sale
from tests.fixtures.database import make_settings
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant


@dataclass
class Seller:
    tenant: Tenant
    channel: FakeInbound
    listing_id: int
    external_id: str


@pytest.fixture
def seller(
    ctx: AppContext, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> Iterator[Seller]:
    tenant = make_tenant(marketplaces=(1,))
    channel = FakeInbound()
    use_channel("mercadolibre", channel)
    connect(ctx, tenant.account_id)
    with ctx.db.writing() as session:
        prices = add_price_list(session, tenant.account_id, "General")
        product = add_product(session, tenant.account_id, "H7", quantity=10, prices={prices: "1500"})
        [listing] = publish_products(session, tenant.account_id, [PublishSpec(product, 1)])
        listing_id, external_id = listing.id, listing.external_id
    yield Seller(tenant, channel, listing_id, external_id)


def notify(ctx: AppContext, resource: str, topic: str = "orders_v2") -> None:
    """One notification received, as the route stores it."""
    with ctx.db.writing() as session:
        outcome = inbox.receive(
            session,
            "mercadolibre",
            notification(resource, topic),
            application_ids=frozenset({APPLICATION}),
            now=clock.precise_utcnow(),
        )
    assert outcome == inbox.RECEIVED


def inbox_rows(ctx: AppContext) -> dict[str, ChannelNotification]:
    with ctx.db.reading() as session:
        return {row.resource: row for row in session.scalars(select(ChannelNotification))}


def worker(ctx: AppContext, **overrides: Any) -> Worker:
    settings = make_settings(ctx.settings.database_url, **{"outbox_backoff_base_seconds": 30.0, **overrides})
    return Worker(ctx.db, settings, pull=False)


def test_an_order_is_created_once_from_two_notifications(ctx: AppContext, seller: Seller) -> None:
    order = sale(listing=seller.external_id)
    seller.channel.results = {
        "/orders/2000001": NoticeResult(orders=(order,)),
        "/shipments/4001": NoticeResult(orders=(order,)),
    }
    notify(ctx, "/orders/2000001")
    notify(ctx, "/shipments/4001", "shipments")
    stats = worker(ctx).run_once()
    assert stats.notices == 2 and stats.as_json()["Notices"] == 2
    with ctx.db.reading() as session:
        orders = session.scalars(select(Order).where(Order.account_id == seller.tenant.account_id)).all()
    assert [o.external_order_id for o in orders] == ["2000001"]
    assert {r.status for r in inbox_rows(ctx).values()} == {NOTICE_DONE}
    # The channel was asked for each pointer, for the seller's account and marketplace, outside any transaction.
    assert sorted(n.resource for n in seller.channel.reads) == ["/orders/2000001", "/shipments/4001"]
    assert {(c.account_id, c.marketplace.id, c.session is None) for c in seller.channel.contexts} == {
        (seller.tenant.account_id, 1, True)
    }
    # Nothing due: the next round finds no notice.
    assert worker(ctx).run_once().notices == 0


def test_a_notification_arriving_during_the_read_keeps_the_row_pending(ctx: AppContext, seller: Seller) -> None:
    order = sale(listing=seller.external_id)

    def read_while_news_arrives() -> NoticeResult:
        notify(ctx, "/orders/2000001")
        return NoticeResult(orders=(order,))

    seller.channel.results = {"/orders/2000001": read_while_news_arrives}
    notify(ctx, "/orders/2000001")
    worker(ctx).run_once()
    row = inbox_rows(ctx)["/orders/2000001"]
    assert (row.status, row.received_count, row.locked_by) == (NOTICE_PENDING, 2, None)
    seller.channel.results = {"/orders/2000001": NoticeResult(orders=(order,))}
    assert worker(ctx).run_once().notices == 1
    assert inbox_rows(ctx)["/orders/2000001"].status == NOTICE_DONE
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_transient_failures_wait_and_are_retried(ctx: AppContext, seller: Seller) -> None:
    seller.channel.results = {"/orders/2000001": TransientDeliveryError("429 from the marketplace")}
    notify(ctx, "/orders/2000001")
    # Transient failures never fail the row, however many attempts they take.
    for _ in range(3):
        worker(ctx, outbox_max_attempts=1).run_once()
        row = inbox_rows(ctx)["/orders/2000001"]
        assert (row.status, row.last_error) == (NOTICE_PENDING, "429 from the marketplace")
        assert row.available_at > clock.precise_utcnow()
        assert worker(ctx).run_once().notices == 0  # not due yet
        with ctx.db.writing() as session:
            session.execute(update(ChannelNotification).values(available_at=datetime(2020, 1, 1, tzinfo=UTC)))
    seller.channel.results = {"/orders/2000001": NoticeResult(orders=(sale(listing=seller.external_id),))}
    worker(ctx).run_once()
    row = inbox_rows(ctx)["/orders/2000001"]
    assert (row.status, row.last_error, row.attempts) == (NOTICE_DONE, None, 4)


def test_a_held_connection_keeps_the_row_waiting_without_spending_attempts(ctx: AppContext, seller: Seller) -> None:
    seller.channel.results = {"/orders/2000001": ConnectionHeld("the connection is disconnected")}
    notify(ctx, "/orders/2000001")
    for _ in range(3):
        worker(ctx, outbox_max_attempts=1).run_once()
        row = inbox_rows(ctx)["/orders/2000001"]
        assert (row.status, row.attempts) == (NOTICE_PENDING, 0)
        assert row.available_at > clock.precise_utcnow()
        with ctx.db.writing() as session:
            session.execute(update(ChannelNotification).values(available_at=datetime(2020, 1, 1, tzinfo=UTC)))


def test_permanent_failures_and_unexpected_errors_beyond_the_attempts_fail_the_row(
    ctx: AppContext, seller: Seller
) -> None:
    seller.channel.results = {
        "/orders/1": PermanentDeliveryError("order 1 does not exist"),
        "/orders/2": RuntimeError("a bug"),
    }
    notify(ctx, "/orders/1")
    notify(ctx, "/orders/2")
    stats = worker(ctx, outbox_max_attempts=1).inbox
    assert stats is not None
    result = stats.run()
    assert (result.failed, result.retried) == (2, 0)
    rows = inbox_rows(ctx)
    assert (rows["/orders/1"].status, rows["/orders/1"].last_error) == (NOTICE_FAILED, "order 1 does not exist")
    assert (rows["/orders/2"].status, rows["/orders/2"].last_error) == (NOTICE_FAILED, "RuntimeError: a bug")
    # News of the same resource opens it again.
    notify(ctx, "/orders/1")
    assert inbox_rows(ctx)["/orders/1"].status == NOTICE_PENDING


def test_a_listing_state_is_applied_and_an_unknown_listing_ignored(ctx: AppContext, seller: Seller) -> None:
    with ctx.db.reading() as session:
        before = session.get(Listing, seller.listing_id)
        assert before is not None
        own = (before.available_quantity, before.price)
    seller.channel.results = {
        "/items/" + seller.external_id: NoticeResult(
            listings=(
                ListingState(
                    external_id=seller.external_id,
                    status="paused",
                    sub_status=("out_of_stock",),
                    available_quantity=0,
                    sold_quantity=7,
                    price=Decimal("1999.9"),
                ),
                ListingState(external_id="MLA999999", status="closed"),
            )
        )
    }
    notify(ctx, "/items/" + seller.external_id, "items")
    worker(ctx).run_once()
    with ctx.db.reading() as session:
        listing = session.get(Listing, seller.listing_id)
        assert listing is not None
        assert (listing.status, listing.status_reason) == (statuses.PAUSED, statuses.REASON_STOCK)
        assert listing.sold_quantity == 7
        # Quantity and price follow the hub's catalog: a notification read late never undoes a newer change.
        assert (listing.available_quantity, listing.price) == own
        assert session.scalar(select(func.count()).select_from(Listing)) == 1
    assert inbox_rows(ctx)["/items/" + seller.external_id].status == NOTICE_DONE
    # Closed on the marketplace: finished in the hub.
    seller.channel.results["/items/" + seller.external_id] = NoticeResult(
        listings=(ListingState(external_id=seller.external_id, status="closed"),)
    )
    notify(ctx, "/items/" + seller.external_id, "items")
    worker(ctx).run_once()
    with ctx.db.reading() as session:
        listing = session.get(Listing, seller.listing_id)
        assert listing is not None and (listing.status, listing.status_reason) == (statuses.FINISHED, None)


def test_a_buyer_message_is_stored_once(ctx: AppContext, seller: Seller) -> None:
    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    buyer = ChannelMessage(
        external_message_id="3f6da1e35ac84f70a24af7360d24c7bc",
        text="¿Cuándo llega?",
        from_buyer=True,
        date=when,
        external_order_id="2000001",
    )
    seller_side = ChannelMessage(
        external_message_id="0aa1", text="Hola", from_buyer=False, date=when, external_order_id="2000001"
    )
    other_order = ChannelMessage(
        external_message_id="0bb2", text="?", from_buyer=True, date=when, external_order_id="999"
    )
    seller.channel.results = {
        "/orders/2000001": NoticeResult(orders=(sale(listing=seller.external_id),)),
        "3f6da1e35ac84f70a24af7360d24c7bc": NoticeResult(messages=(buyer, seller_side, other_order)),
    }
    notify(ctx, "/orders/2000001")
    worker(ctx).run_once()
    for _ in range(2):
        notify(ctx, "3f6da1e35ac84f70a24af7360d24c7bc", "messages")
        worker(ctx).run_once()
    with ctx.db.reading() as session:
        messages = session.scalars(select(OrderMessage)).all()
    assert [(m.sender, m.text, m.external_id) for m in messages] == [
        (MESSAGE_FROM_BUYER, "¿Cuándo llega?", "3f6da1e35ac84f70a24af7360d24c7bc")
    ]
    assert messages[0].created_at == when
    assert inbox_rows(ctx)["3f6da1e35ac84f70a24af7360d24c7bc"].received_count == 2


def test_an_expired_lease_is_claimed_again_and_the_first_reader_applies_nothing(
    ctx: AppContext, seller: Seller
) -> None:
    order = sale(listing=seller.external_id)
    first = worker(ctx, outbox_lease_seconds=0.0)
    second = worker(ctx)

    def taken_over_during_the_read() -> NoticeResult:
        # The first reader's lease expired (zero seconds): another worker claims the row and reads it.
        seller.channel.results = {"/orders/2000001": NoticeResult(orders=(order,))}
        assert second.run_once().notices == 1
        return NoticeResult(orders=(sale(listing=seller.external_id, status="cancelled"),))

    seller.channel.results = {"/orders/2000001": taken_over_during_the_read}
    notify(ctx, "/orders/2000001")
    reader = first.inbox
    assert reader is not None
    stats = reader.run()
    assert stats.lost == 1
    with ctx.db.reading() as session:
        [hub_order] = session.scalars(select(Order)).all()
        assert hub_order.external_order_id == "2000001" and hub_order.status != st.CANCELLED
    assert inbox_rows(ctx)["/orders/2000001"].status == NOTICE_DONE


def test_a_batch_with_one_failing_read_retries_only_that_notice(ctx: AppContext, seller: Seller) -> None:
    seller.channel.results = {
        "/orders/1": NoticeResult(orders=(sale("1", listing=seller.external_id),)),
        "/orders/2": TransientDeliveryError("503 from the marketplace"),
        "/orders/3": NoticeResult(orders=(sale("3", listing=seller.external_id),)),
        "/questions/4": NoticeResult(ignored="topic questions not followed"),
    }
    for resource in ("/orders/1", "/orders/2", "/orders/3"):
        notify(ctx, resource)
    notify(ctx, "/questions/4", "questions")
    reader = worker(ctx).inbox
    assert reader is not None
    stats = reader.run()
    assert (stats.claimed, stats.done, stats.retried, stats.orders, stats.ignored) == (4, 3, 1, 2, 1)
    rows = inbox_rows(ctx)
    assert {r: rows[r].status for r in rows} == {
        "/orders/1": NOTICE_DONE,
        "/orders/2": NOTICE_PENDING,
        "/orders/3": NOTICE_DONE,
        "/questions/4": NOTICE_DONE,
    }
    assert rows["/orders/2"].last_error == "503 from the marketplace"
    # Only the failed notice is read again, and its order then arrives.
    with ctx.db.writing() as session:
        session.execute(update(ChannelNotification).values(available_at=datetime(2020, 1, 1, tzinfo=UTC)))
    seller.channel.results["/orders/2"] = NoticeResult(orders=(sale("2", listing=seller.external_id),))
    seller.channel.reads.clear()
    assert reader.run().orders == 1
    assert [n.resource for n in seller.channel.reads] == ["/orders/2"]
    with ctx.db.reading() as session:
        assert sorted(session.scalars(select(Order.external_order_id))) == ["1", "2", "3"]


def test_an_order_read_twice_in_one_batch_is_applied_once_from_its_newest_read(ctx: AppContext, seller: Seller) -> None:
    older = sale(listing=seller.external_id, shipping_status="pending")
    newer = sale(
        listing=seller.external_id,
        shipping_status="ready_to_ship",
        date_updated=datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
    )
    # The newer read comes first in the batch: it still wins.
    seller.channel.results = {
        "/shipments/4001": NoticeResult(orders=(newer,)),
        "/orders/2000001": NoticeResult(orders=(older,)),
    }
    notify(ctx, "/shipments/4001", "shipments")
    notify(ctx, "/orders/2000001")
    notify(ctx, "/orders/2000001")  # the same pointer twice: one row, read once
    reader = worker(ctx).inbox
    assert reader is not None
    stats = reader.run()
    assert (stats.claimed, stats.done, stats.orders) == (2, 2, 1)
    assert sorted(n.resource for n in seller.channel.reads) == ["/orders/2000001", "/shipments/4001"]
    with ctx.db.reading() as session:
        [order] = session.scalars(select(Order)).all()
        assert order.shipment_status == "ready_to_ship"
        # Stock moved once: 10 in stock, one sold.
        quantity = session.scalar(
            select(Product.quantity)
            .join(Listing, Listing.product_id == Product.id)
            .where(Listing.id == seller.listing_id)
        )
    assert quantity == 9


def test_a_notice_that_cannot_be_applied_fails_alone(ctx: AppContext, seller: Seller) -> None:
    broken = sale(
        "2",
        listing=seller.external_id,
        items=(ChannelOrderItem(external_listing_id="X", quantity=0, unit_price=Decimal(1)),),
    )
    seller.channel.results = {
        "/orders/1": NoticeResult(orders=(sale("1", listing=seller.external_id),)),
        "/orders/2": NoticeResult(orders=(broken,)),
        "/orders/3": NoticeResult(orders=(sale("3", listing=seller.external_id),)),
    }
    for resource in ("/orders/1", "/orders/2", "/orders/3"):
        notify(ctx, resource)
    reader = worker(ctx).inbox
    assert reader is not None
    stats = reader.run()
    assert (stats.done, stats.retried, stats.orders) == (2, 1, 2)
    rows = inbox_rows(ctx)
    assert rows["/orders/2"].status == NOTICE_PENDING
    assert rows["/orders/2"].last_error == "ValueError: item X has quantity 0"
    with ctx.db.reading() as session:
        assert sorted(session.scalars(select(Order.external_order_id))) == ["1", "3"]


def test_a_batch_read_that_fails_as_a_whole_records_every_row(
    ctx: AppContext, seller: Seller, use_channel: Callable[[str, Any], None]
) -> None:
    class Broken(FakeInbound):
        def read_notices(self, ctx: Any, notices: Any, *, concurrency: int = 1) -> list[Any]:
            raise RuntimeError("the batch read broke")

    use_channel("mercadolibre", Broken())
    notify(ctx, "/orders/1")
    notify(ctx, "/orders/2")
    reader = worker(ctx).inbox
    assert reader is not None
    stats = reader.run()
    assert (stats.claimed, stats.retried) == (2, 2)
    rows = inbox_rows(ctx)
    assert {(r.status, r.last_error, r.locked_by) for r in rows.values()} == {
        (NOTICE_PENDING, "RuntimeError: the batch read broke", None)
    }


def _listed_product(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> tuple[Tenant, str]:
    """A new seller on marketplace 1 with one product (10 units) listed there, and the listing's external id."""
    tenant = make_tenant(marketplaces=(1,))
    with ctx.db.writing() as session:
        prices = add_price_list(session, tenant.account_id, "General")
        product = add_product(session, tenant.account_id, "H7", quantity=10, prices={prices: "1500"})
        [listing] = publish_products(session, tenant.account_id, [PublishSpec(product, 1)])
        return tenant, listing.external_id


def test_a_batch_applies_as_its_orders_one_by_one(
    ctx: AppContext, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> None:
    # Two sellers alike: one gets the orders as one batch (rows read beforehand, carts and units sold written
    # once), the other one order at a time; the results are the same.
    def entries(listing: str) -> list[Any]:
        two = ChannelOrderItem(external_listing_id=listing, quantity=2, unit_price=Decimal("1500"))
        return [
            sale("3000001", listing=listing, pack_id="900", pack_size=2),
            sale("3000002", listing=listing, pack_id="900", pack_size=2, items=(two,)),
            sale("3000003", listing=listing, pack_id="901", pack_size=2),
            sale("3000004", listing=listing),
            sale("3000004", listing=listing, status="cancelled", date_updated=datetime(2026, 12, 1, tzinfo=UTC)),
        ]

    def results(account_id: int) -> tuple[Any, ...]:
        with ctx.db.reading() as session:
            orders = session.execute(
                select(Order.external_order_id, Order.pack_complete, Order.status, Order.stock_moved)
                .where(Order.account_id == account_id)
                .order_by(Order.external_order_id)
            ).all()
            sold, quantity = session.execute(
                select(Listing.sold_quantity, Product.quantity)
                .join(Product, Product.id == Listing.product_id)
                .where(Listing.account_id == account_id)
            ).one()
        return tuple(tuple(o) for o in orders), sold, quantity

    outcomes = []
    for batched in (True, False):
        tenant, external = _listed_product(ctx, make_tenant)
        first, second = entries(external)[:4], entries(external)[4:]
        for part in (first, second):
            with ctx.db.writing() as session:
                ref = marketplace_ref(session, 1)
                if batched:
                    apply_orders(session, tenant.account_id, ref, part)
                else:
                    sync = OrderSync(session, tenant.account_id, ref)
                    for entry in part:
                        sync.apply(entry)
        outcomes.append(results(tenant.account_id))
    assert outcomes[0] == outcomes[1]
    orders, sold, quantity = outcomes[0]
    # The first cart has both its orders (complete), the second one of two; five units sold, the cancelled
    # order's unit given back.
    assert [o[:2] for o in orders] == [("3000001", True), ("3000002", True), ("3000003", False), ("3000004", None)]
    assert (sold, quantity) == (5, 6)


def written_statements(ctx: AppContext, run: Callable[[], Any]) -> list[str]:
    """The statements (other than BEGIN/COMMIT/ROLLBACK) ``run`` sent through the writing engine."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(ctx.db.write_engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        event.remove(ctx.db.write_engine, "before_cursor_execute", seen)
    return [s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def test_a_batch_stores_its_new_orders_with_one_insert_and_one_detail_write(ctx: AppContext, seller: Seller) -> None:
    entries = [sale(f"500000{n}", listing=seller.external_id) for n in range(1, 4)]
    entries.insert(1, sale("5000001", listing=seller.external_id, status="cancelled"))  # news of an order just made

    def apply() -> None:
        with ctx.db.writing() as session:
            assert apply_orders(session, seller.tenant.account_id, marketplace_ref(session, 1), entries) == 4

    statements = written_statements(ctx, apply)
    # The first order is stored before its news is applied; the two others wait for the end of the batch: their
    # details are one statement (and on PostgreSQL their rows too; SQLite's ORM inserts one row at a time).
    assert sum(s.startswith("UPDATE ORDERS SET DETAIL") for s in statements) == 2
    inserts = sum(s.startswith("INSERT INTO ORDERS ") for s in statements)
    assert inserts == (2 if ctx.db.dialect == "postgresql" else 3)
    with ctx.db.reading() as session:
        stored = session.scalars(select(Order).order_by(Order.external_order_id)).all()
        history = session.scalar(select(func.count()).select_from(OrderHistory))
    assert [(o.external_order_id, o.status) for o in stored] == [
        ("5000001", st.CANCELLED),
        ("5000002", st.READY_TO_SHIP),
        ("5000003", st.READY_TO_SHIP),
    ]
    for order in stored:  # the items' ids derive from each order's own id
        assert [item["Id"] for item in json.loads(order.detail)["Items"]] == [order.id * 1000 + 1]
    assert history >= 4  # three creations, the cancellation


def test_a_batch_marks_its_rows_done_with_one_statement_and_keeps_a_reopened_one_pending(
    ctx: AppContext, seller: Seller
) -> None:
    first, second = sale("2000001", listing=seller.external_id), sale("2000002", listing=seller.external_id)

    def read_while_news_arrives() -> NoticeResult:
        notify(ctx, "/orders/2000002")
        return NoticeResult(orders=(second,))

    seller.channel.results = {
        "/orders/2000001": NoticeResult(orders=(first,)),
        "/orders/2000002": read_while_news_arrives,
    }
    notify(ctx, "/orders/2000001")
    notify(ctx, "/orders/2000002")
    statements = written_statements(ctx, lambda: worker(ctx).run_once())
    marks = [s for s in statements if s.startswith("UPDATE CHANNEL_NOTIFICATIONS") and "PROCESSED_AT" in s]
    # One statement for the rows still as claimed, then the re-opened one alone (not done: re-opened).
    assert len(marks) == 3
    rows = inbox_rows(ctx)
    assert rows["/orders/2000001"].status == NOTICE_DONE
    assert (rows["/orders/2000002"].status, rows["/orders/2000002"].received_count) == (NOTICE_PENDING, 2)
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2


OWN_FIELDS = frozenset({"Id", "ExternalId", "PermanentLink", "Account", "DateCreated"})


def test_a_batch_moves_stock_in_memory_as_one_by_one_would(
    ctx: AppContext, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> None:
    # Two sellers alike, the same entries: one batch (stock moved in memory, written once, and before the news
    # of a known order gives stock back) or one order at a time; the results are the same, shortfall included.
    def entries(listing: str) -> list[Any]:
        many = ChannelOrderItem(external_listing_id=listing, quantity=20, unit_price=Decimal("1500"))
        return [
            sale("6000001", listing=listing),
            sale("6000002", listing=listing),
            sale("6000001", listing=listing, status="cancelled", date_updated=datetime(2026, 12, 1, tzinfo=UTC)),
            sale("6000003", listing=listing, items=(many,)),
            sale("6000004", listing=listing),
        ]

    def results(account_id: int) -> tuple[Any, ...]:
        with ctx.db.reading() as session:
            orders = session.execute(
                select(Order.external_order_id, Order.status, Order.stock_moved, Order.detail)
                .where(Order.account_id == account_id)
                .order_by(Order.external_order_id)
            ).all()
            quantity = session.scalar(select(Product.quantity).where(Product.account_id == account_id))

        def without_ids(value: Any) -> Any:  # the two sellers' rows have ids, names and moments of their own
            if isinstance(value, dict):
                return {k: without_ids(v) for k, v in value.items() if k not in OWN_FIELDS}
            return [without_ids(v) for v in value] if isinstance(value, list) else value

        lines = [
            (ext, status, moved, without_ids(json.loads(detail)["Items"])) for ext, status, moved, detail in orders
        ]
        return tuple(lines), quantity

    outcomes, product_writes = [], []
    for batched in (True, False):
        tenant, external = _listed_product(ctx, make_tenant)
        first, second = entries(external)[:1], entries(external)[1:]
        for part in (first, second):

            def apply(part: list[Any] = part, account_id: int = tenant.account_id, batched: bool = batched) -> None:
                with ctx.db.writing() as session:
                    ref = marketplace_ref(session, 1)
                    if batched:
                        apply_orders(session, account_id, ref, part)
                    else:
                        sync = OrderSync(session, account_id, ref)
                        for entry in part:
                            sync.apply(entry)

            statements = written_statements(ctx, apply)
        product_writes.append(sum(s.startswith("UPDATE PRODUCTS SET QUANTITY") for s in statements))
        outcomes.append(results(tenant.account_id))
    assert outcomes[0] == outcomes[1]
    # 10 units: one sold then given back by the cancellation, one sold, 20 asked (8 there), none left for the last.
    assert outcomes[0][1] == 0
    # The second part: the move written before the news, the news giving the unit back, then the last two orders'
    # moves at once; one order at a time, one write per order and one for the news.
    assert product_writes == [3, 4]


def test_the_next_batch_is_read_while_one_is_applied_and_close_applies_what_was_read(
    ctx: AppContext, seller: Seller
) -> None:
    released = threading.Event()

    def held(order: ChannelOrder) -> Callable[[], NoticeResult]:
        def read() -> NoticeResult:
            released.wait(10)  # the second batch's read lasts until the first batch has been applied
            return NoticeResult(orders=(order,))

        return read

    numbers = [f"200000{n}" for n in range(1, 6)]
    seller.channel.results = {
        f"/orders/{number}": held(sale(number, listing=seller.external_id))
        if number in ("2000003", "2000004")
        else NoticeResult(orders=(sale(number, listing=seller.external_id),))
        for number in numbers
    }
    for number in numbers:
        notify(ctx, f"/orders/{number}")
    reader = worker(ctx).inbox
    assert reader is not None
    reader.read_ahead = True

    first = reader.run(2)
    # The first two are applied while the next two, claimed ahead, are still being read.
    assert (first.claimed, first.orders, released.is_set()) == (2, 2, False)
    rows = inbox_rows(ctx)
    assert [rows[f"/orders/{n}"].status for n in numbers] == [NOTICE_DONE] * 2 + [NOTICE_IN_FLIGHT] * 2 + [
        NOTICE_PENDING
    ]
    released.set()
    assert reader.run(2).orders == 2  # the batch read ahead; the last row is claimed and read in turn
    reader.close()  # what was read ahead is applied, not left leased
    with ctx.db.reading() as session:
        stored = session.scalars(select(Order.external_order_id).order_by(Order.external_order_id)).all()
        quantity = session.scalar(select(Product.quantity).where(Product.sku == "H7"))
    assert stored == numbers
    assert quantity == 10 - len(numbers)
    assert {row.status for row in inbox_rows(ctx).values()} == {NOTICE_DONE}
    assert reader.run(2).claimed == 0


def test_the_worker_loop_reads_ahead_and_applies_what_it_read_before_it_stops(ctx: AppContext, seller: Seller) -> None:
    released = threading.Event()
    numbers = [f"200000{n}" for n in range(1, 6)]

    def held(number: str) -> Callable[[], NoticeResult]:
        def read() -> NoticeResult:
            released.wait(10)
            return NoticeResult(orders=(sale(number, listing=seller.external_id),))

        return read

    seller.channel.results = {
        f"/orders/{n}": held(n)
        if n in ("2000003", "2000004")
        else NoticeResult(orders=(sale(n, listing=seller.external_id),))
        for n in numbers
    }
    for number in numbers:
        notify(ctx, f"/orders/{number}")
    loop = worker(ctx, worker_interval_seconds=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run_forever, kwargs={"stop": stop, "batch": 2})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while inbox_rows(ctx)["/orders/2000002"].status != NOTICE_DONE and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()  # the loop stops while the second batch is still being read
    finally:
        released.set()
        thread.join(20)
    assert not thread.is_alive()
    # Nothing was left leased: the batch read ahead was applied before the loop ended.
    assert {row.status for row in inbox_rows(ctx).values()} <= {NOTICE_DONE, NOTICE_PENDING}
    with ctx.db.reading() as session:
        stored = session.scalars(select(Order.external_order_id)).all()
        quantity = session.scalar(select(Product.quantity).where(Product.sku == "H7"))
    assert len(stored) == len(set(stored)) and quantity == 10 - len(stored)
    assert {"2000001", "2000002", "2000003", "2000004"} <= set(stored)
    assert loop.inbox is not None and loop.inbox.read_ahead is False
