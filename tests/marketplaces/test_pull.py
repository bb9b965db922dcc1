"""Pulling the sandbox's order feed into the hub: orders created through the orders domain, stock moved once,
listings following, carts, pending payments, late cancellations, idempotency, bad entries, and order pushes
reaching the real sold order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from alephee import clock
from alephee.http.context import AppContext
from alephee.http.wire import format_utc
from alephee.listings.models import Listing
from alephee.marketplaces.models import OutboxMessage, PullCursor, SandboxEvent, SandboxListing, SandboxOrder
from alephee.orders.models import Order, OrderHistory
from alephee.orders.status_updates import integrate
from alephee.sandbox import state as sandbox
from alephee.sync.pull import Puller
from tests.fixtures.marketplaces import (
    QUIET,
    SIMPLE,
    Shop,
    advance,
    deliver,
    get_orders,
    hub_orders,
    only,
    pull,
    sell,
    sold_units,
    state,
    stock,
)


def test_sales_become_hub_orders_and_stock_moves_exactly_once(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    before = stock(ctx, shop)
    report = sell(ctx, shop, 10)
    stats = pull(ctx)
    assert (stats.created, stats.skipped, stats.failed) == (10, 0, 0)
    sold = sold_units(ctx)
    after = stock(ctx, shop)
    for sku in SIMPLE:
        assert after[sku] == before[sku] - sold.get(sku, 0), sku
    # The ERP sees them, with the marketplace's numbers and the catalog's products.
    listed = get_orders(client, shop, Integrated="false")
    assert sorted(o["ExternalOrderId"] for o in listed) == sorted(report.orders)
    first = listed[0]
    item = first["Items"][0]
    assert item["Product"]["Id"] == shop.products[item["Product"]["Sku"]]
    assert item["ProductListing"]["ExternalId"] == shop.external_ids[item["Product"]["Sku"]]
    assert item["QuantitiesDetails"]["StockMovements"][0]["Quantity"] == -item["Quantity"]
    assert first["Status"]["Key"] == 10 and first["Shipping"]["LogisticType"]["Value"] == "drop_off"
    assert first["Shipping"]["Method"]["Value"] == "MarketplaceShipping"
    assert first["Payments"][0]["Status"]["Value"] == "approved"
    # The listings followed (through the products hook) and the sandbox learnt it.
    deliver(ctx)
    with ctx.db.reading() as session:
        hub = {lid: (q, s, r, sold_q) for lid, q, s, r, sold_q in session.execute(
            select(Listing.id, Listing.available_quantity, Listing.status, Listing.status_reason,
                   Listing.sold_quantity))}  # fmt: skip
        market = {row.external_id: row for row in session.scalars(select(SandboxListing))}
    for sku in SIMPLE:
        quantity, _, _, sold_quantity = hub[shop.listings[sku]]
        assert sold_quantity == sold.get(sku, 0)
        assert market[shop.external_ids[sku]].available_quantity == quantity
    # TERMO-1L: 4 in stock with MinPublicationQuantity 3: its first sale pauses the listing.
    assert sold.get("TERMO-1L"), "the seed must sell the thermos"
    assert hub[shop.listings["TERMO-1L"]][1:3] == ("paused", "stock")
    assert market[shop.external_ids["TERMO-1L"]].status == "paused"

    # Pulling the same entries again changes nothing at all.
    snapshot = state(ctx)
    with ctx.db.writing() as session:
        session.execute(update(PullCursor).values(cursor=None))
    again = pull(ctx)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert state(ctx) == snapshot
    assert stock(ctx, shop) == after


def test_a_cart_is_complete_only_when_all_its_orders_arrived(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    report = sell(ctx, shop, 3, mix=replace(QUIET, cart=1, cart_delay=1))
    assert report.carts == 1
    pull(ctx)
    first = get_orders(client, shop)
    assert len(first) == 2 and {o["IsCompletePackOrder"] for o in first} == {False}
    pack_id = first[0]["PackId"]
    assert pack_id and {o["PackId"] for o in first} == {pack_id} == {o["SourcePackId"] for o in first}
    advance(ctx, 3)
    pull(ctx)
    everything = get_orders(client, shop)
    assert len(everything) == 3 and {o["IsCompletePackOrder"] for o in everything} == {True}
    pack = client.get(f"/v2/orders/packs/{pack_id}", params=shop.tenant.q())
    assert pack.status_code == 200 and len(pack.json()["Orders"]) == 3


def test_pending_payments_wait_hidden_and_a_cancelled_payment_returns_the_stock(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    before = stock(ctx, shop)
    approved = sell(ctx, shop, 2, mix=replace(QUIET, pending_payment=1, pending_approves=1))
    rejected = sell(ctx, shop, 2, seed=6, mix=replace(QUIET, pending_payment=1, pending_approves=0))
    pull(ctx)
    assert get_orders(client, shop) == []  # pending payments are not handled by default (CF-20.1.4)
    pending = get_orders(client, shop, includePendingPayments="true")
    assert len(pending) == 4 and {o["Payments"][0]["Status"]["Value"] for o in pending} == {"pending"}
    assert {o["Shipping"]["Status"]["Value"] for o in pending} == {"pending"}
    # The sale reserved the stock at once.
    sold = sold_units(ctx)
    assert all(stock(ctx, shop)[sku] == before[sku] - sold.get(sku, 0) for sku in SIMPLE)
    t0 = clock.utcnow()
    clock.advance(timedelta(seconds=2))
    advance(ctx, 31)
    pull(ctx)
    visible = get_orders(client, shop)
    assert sorted(o["ExternalOrderId"] for o in visible) == sorted(approved.orders)
    assert {o["Payments"][0]["Status"]["Value"] for o in visible} == {"approved"}
    assert {o["Shipping"]["Status"]["Value"] for o in visible} == {"ready_to_ship"}
    # A payment approved is news for the ERP polling by status date.
    news = get_orders(client, shop, statusDateFrom=format_utc(t0), includePendingPayments="true")
    assert {o["ExternalOrderId"] for o in news} == set(approved.orders) | set(rejected.orders)
    cancelled = get_orders(client, shop, statusType="99", includePendingPayments="true")
    assert sorted(o["ExternalOrderId"] for o in cancelled) == sorted(rejected.orders)
    kept = {sku: units for sku, units in sold_units_of(ctx, approved.orders).items()}
    assert all(stock(ctx, shop)[sku] == before[sku] - kept.get(sku, 0) for sku in SIMPLE)


def sold_units_of(ctx: AppContext, externals: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    with ctx.db.reading() as session:
        for order in session.scalars(select(SandboxOrder).where(SandboxOrder.external_order_id.in_(externals))):
            for item in order.detail["items"]:
                out[item["sku"]] = out.get(item["sku"], 0) + item["quantity"]
    return out


def test_statuses_progress_and_a_late_cancellation_is_found_after_integration(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    before = stock(ctx, shop)
    shipped = sell(ctx, shop, 2)
    late = sell(ctx, shop, 1, seed=9, mix=replace(QUIET, late_cancellation=1))
    pull(ctx)
    orders = get_orders(client, shop, Integrated="false")
    assert len(orders) == 3
    body = [{"OrderId": o["Id"], "OwnOrderId": f"ERP-{o['Id']}", "ErpStatus": "ok"} for o in orders]
    result = client.put("/v2/orders/integrate", params=shop.tenant.q(), json=body).json()
    assert {r["Status"] for r in result["Results"]} == {"200"}
    assert get_orders(client, shop, Integrated="false") == []
    t0 = clock.utcnow()
    clock.advance(timedelta(seconds=2))
    advance(ctx, 50)
    stats = pull(ctx)
    assert stats.updated == 3
    by_external = {o["ExternalOrderId"]: o for o in get_orders(client, shop, Integrated="true")}
    for external in shipped.orders:
        assert by_external[external]["Status"]["Key"] == 20
        assert by_external[external]["Shipping"]["Status"]["Value"] == "shipped"
    cancelled = by_external[late.orders[0]]
    assert cancelled["Status"]["Key"] == 90 and cancelled["IsCancelled"] and cancelled["DateClosed"]
    found = get_orders(client, shop, statusType="99", statusDateFrom=format_utc(t0))
    assert [o["ExternalOrderId"] for o in found] == late.orders
    # The cancellation gave its units back; the shipped orders keep theirs.
    kept = sold_units_of(ctx, shipped.orders)
    assert all(stock(ctx, shop)[sku] == before[sku] - kept.get(sku, 0) for sku in SIMPLE)
    with ctx.db.reading() as session:
        history = session.execute(
            select(OrderHistory.actor, OrderHistory.action, OrderHistory.from_status, OrderHistory.to_status)
            .join(Order, Order.id == OrderHistory.order_id)
            .where(Order.external_order_id == late.orders[0])
            .order_by(OrderHistory.id)
        ).all()
    assert [tuple(h) for h in history] == [
        ("marketplace", "create", None, 10),
        (f"key:{shop.tenant.key_id}", "integrate", None, None),
        ("marketplace", "status", 10, 90),
        ("marketplace", "payment", 90, 90),  # refunded
    ]
    # Marketplace news never travels back to the marketplace.
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).where(OutboxMessage.topic == "order.status")) == 0


def test_manual_logistics_keep_the_sellers_status_and_pushes_reach_the_sold_order(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    flex = sell(ctx, shop, 2, mix=replace(QUIET, cart=1, cart_delay=0, logistics=(("self_service", 1),)))
    pull(ctx)
    orders = get_orders(client, shop)
    assert {o["Shipping"]["Method"]["Value"] for o in orders} == {"SellerShipping"}
    target = orders[0]
    update_body = [{"OrderId": target["Id"], "Status": 20, "Tracking": {"Number": "TRK-1", "Status": "en camino"}}]
    response = client.put("/v2/orders", params=shop.tenant.q(), json=update_body)
    assert response.json()["Results"][0]["Status"] == 200
    deliver(ctx)
    with ctx.db.reading() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "order.status"))
        assert row is not None and row.status == "delivered"
        event = session.scalar(select(SandboxEvent).where(SandboxEvent.kind == "order.status"))
        sold = session.scalar(select(SandboxOrder).where(SandboxOrder.external_order_id == target["ExternalOrderId"]))
        shadows = session.scalar(select(func.count()).select_from(SandboxOrder).where(SandboxOrder.change_seq == 0))
    # The worker named the marketplace's order: the sandbox updated the sold order, no stand-in was created.
    assert event is not None and event.ref == target["ExternalOrderId"] and event.result == "applied"
    assert sold is not None and (sold.seller_status, sold.shipping_status, sold.tracking_number) == (
        20,
        "shipped",
        "TRK-1",
    )
    assert (
        sold.hub_order_id == target["Id"]
        and shadows == 0
        and sorted(flex.orders) == sorted(o["ExternalOrderId"] for o in orders)
    )
    # The feed brings the change back; the hub keeps the seller's status and moves nothing.
    snapshot = state(ctx)
    assert pull(ctx).updated == 0
    assert state(ctx) == snapshot
    # Time passing does not ship a Flex order on its own.
    advance(ctx, 100)
    pull(ctx)
    other = next(o for o in get_orders(client, shop) if o["Id"] != target["Id"])
    assert other["Status"]["Key"] == 10 and other["Shipping"]["Status"]["Value"] == "ready_to_ship"


def test_worker_names_the_marketplace_order_in_every_order_push(
    ctx: AppContext, open_shop: Callable[..., Shop]
) -> None:
    from alephee.marketplaces.delivery import OutboxItem
    from alephee.sync.senders import with_order_ids

    shop = open_shop()
    only(ctx, shop, SIMPLE)
    sell(ctx, shop, 2, mix=replace(QUIET, cart=1, cart_delay=0))
    pull(ctx)
    order = hub_orders(ctx)[0]
    item = OutboxItem(
        id=1,
        account_id=shop.account_id,
        marketplace_id=100,
        topic="order.document",
        aggregate_type="order",
        aggregate_id=order.id,
        payload={"OrderId": order.id, "document_type": 0},
        attempts=1,
        created_at=clock.utcnow(),
    )
    with ctx.db.reading() as session:
        enriched = with_order_ids(session, item)
        explicit = with_order_ids(session, replace(item, payload={"external_order_id": "X", "pack_id": "P"}))
        other_account = with_order_ids(session, replace(item, account_id=shop.account_id + 1))
        listing_row = with_order_ids(session, replace(item, topic="listing.update", aggregate_type="listing"))
    assert enriched.payload == {
        "OrderId": order.id,
        "document_type": 0,
        "ExternalOrderId": order.external_order_id,
        "PackId": order.pack_id,
    }
    assert explicit.payload == {"external_order_id": "X", "pack_id": "P"}
    assert other_account.payload == item.payload and listing_row.payload == item.payload


def test_kits_variations_and_unknown_listings(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    shop = open_shop()
    before = stock(ctx, shop)
    with ctx.db.writing() as session:
        for n, (external, quantity) in enumerate(
            [(shop.external_ids["KIT-MATERO"], 2), (shop.external_ids["REM-01"], 3), ("MLA999999", 1)]
        ):
            sandbox.create_order(
                session,
                account_id=shop.account_id,
                marketplace_id=100,
                external_order_id=f"77{n}",
                items=[{"external_listing_id": external, "quantity": quantity, "unit_price": "10", "sku": "S"}],
                payments=[{"id": f"p{n}", "status": "approved", "amount": "10"}],
            )
    assert pull(ctx).created == 3
    after = stock(ctx, shop)
    # A kit takes its components (1 mate + 2 bombillas each); a master's listing sells its best-stocked variation.
    assert after["MATE-01"] == before["MATE-01"] - 2 and after["BOMBI-01"] == before["BOMBI-01"] - 4
    assert after["REM-01-L"] == before["REM-01-L"] - 3 and after["REM-01-M"] == before["REM-01-M"]
    orders = {o["ExternalOrderId"]: o for o in get_orders(client, shop)}
    kit = orders["770"]["Items"]
    assert [(i["Type"]["Value"], i["Product"]["Sku"], i["Quantity"]) for i in kit] == [
        ("KIT", "KIT-MATERO", 2),
        ("COMPONENT", "MATE-01", 2),
        ("COMPONENT", "BOMBI-01", 4),
    ]
    assert kit[1]["ParentItemId"] == kit[0]["Id"]
    assert orders["771"]["Items"][0]["Product"]["Sku"] == "REM-01-L"
    unknown = orders["772"]["Items"][0]
    assert unknown["Product"]["Id"] == 0 and unknown["ProductListing"]["ExternalId"] == "MLA999999"
    # Cancelling them gives back exactly what they took.
    with ctx.db.writing() as session:
        for row in session.scalars(select(SandboxOrder)):
            row.status, row.shipping_status = "cancelled", "cancelled"
            sandbox.touch_order(session, row)
    assert pull(ctx).updated == 3
    assert stock(ctx, shop) == before


def test_an_entry_that_cannot_be_applied_is_skipped_and_recorded(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient
) -> None:
    from tests.fixtures.orders import order_info

    shop = open_shop()
    # An order the ERP created in the hub under a number the marketplace later uses for one of its sales.
    created = client.post("/v2/orders", params=shop.tenant.q(), json=order_info("882", marketplace_id=100))
    assert created.status_code == 201, created.text
    with ctx.db.writing() as session:
        for external, quantity in (("880", 0), ("881", 1), ("882", 1)):
            sandbox.create_order(
                session,
                account_id=shop.account_id,
                marketplace_id=100,
                external_order_id=external,
                items=[{"external_listing_id": shop.external_ids["MATE-01"], "quantity": quantity, "unit_price": "1"}],
            )
    stats = pull(ctx)
    assert (stats.created, stats.skipped) == (1, 2)
    assert sorted((o.external_order_id, o.origin) for o in hub_orders(ctx)) == [("881", "marketplace"), ("882", "api")]
    with ctx.db.reading() as session:
        cursor = session.get(PullCursor, (shop.account_id, 100))
        assert cursor is not None and cursor.skipped == 2 and cursor.applied == 3
        assert cursor.last_error is not None and cursor.last_error.startswith("order 882: the hub's order")
    assert pull(ctx).skipped == 0  # the feed moved on


def test_parallel_pullers_apply_each_entry_once(ctx: AppContext, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    before = stock(ctx, shop)
    sell(ctx, shop, 20, mix=replace(QUIET, cart=0.3, cart_delay=0))
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        try:
            start.wait()
            Puller(ctx.db, ctx.settings, page_size=3).run()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pull(ctx)  # whatever a skipped (locked) feed left
    assert len(hub_orders(ctx)) == 20
    sold = sold_units(ctx)
    assert all(stock(ctx, shop)[sku] == before[sku] - sold.get(sku, 0) for sku in SIMPLE)


def test_sold_price_and_discounts_reach_the_order(ctx: AppContext, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop()
    only(ctx, shop, ["MATE-01"])
    with ctx.db.writing() as session:
        row = session.scalar(select(SandboxListing).where(SandboxListing.external_id == shop.external_ids["MATE-01"]))
        assert row is not None
        row.discount_percent = Decimal(10)
    sell(ctx, shop, 1)
    pull(ctx)
    with ctx.db.reading() as session:
        order = session.scalar(select(Order))
        assert order is not None
        from alephee.orders.rendering import detail_of

        item = detail_of(order.detail)["Items"][0]
    assert (item["UnitPrice"], item["FullUnitPrice"]) == (1350.0, 1500.0)


def test_pulling_while_the_erp_works_on_the_same_orders_and_products(
    ctx: AppContext, open_shop: Callable[..., Shop]
) -> None:
    from alephee.products import stock as products_service

    shop = open_shop()
    only(ctx, shop, SIMPLE)
    before = stock(ctx, shop)
    sell(ctx, shop, 12, mix=replace(QUIET, late_cancellation=0.5, logistics=(("drop_off", 1), ("self_service", 1))))
    pull(ctx)
    advance(ctx, 50)  # every order has news now: shipped or cancelled
    ids = [o.id for o in hub_orders(ctx)]
    errors: list[BaseException] = []
    failed_feeds: list[int] = []
    start = threading.Barrier(3)

    def puller() -> None:
        try:
            start.wait()
            # A deadlock would roll the page back and count the feed as failed (the worker retries it later).
            failed_feeds.append(Puller(ctx.db, ctx.settings, page_size=2).run().failed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def erp() -> None:
        try:
            start.wait()
            for _ in range(3):
                with ctx.db.writing() as session:
                    integrate(session, shop.account_id, "test", [{"OrderId": i} for i in reversed(ids)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def stock_keeper() -> None:
        try:
            start.wait()
            for _ in range(3):
                with ctx.db.writing() as session:
                    moves = {shop.products[sku]: 1 for sku in SIMPLE}
                    products_service.move_stocks(session, shop.account_id, moves)
                with ctx.db.writing() as session:
                    moves = {shop.products[sku]: -1 for sku in SIMPLE}
                    products_service.move_stocks(session, shop.account_id, moves)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (puller, erp, stock_keeper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and failed_feeds == [0]
    pull(ctx)
    with ctx.db.reading() as session:
        cancelled = list(
            session.scalars(select(SandboxOrder.external_order_id).where(SandboxOrder.status == "cancelled"))
        )
        statuses = dict(session.execute(select(Order.external_order_id, Order.status)).all())
        assert all(session.scalars(select(Order.integrated)))
    assert cancelled and {statuses[e] for e in cancelled} == {90}
    kept = sold_units_of(ctx, [e for e in statuses if e not in cancelled])
    assert all(stock(ctx, shop)[sku] == before[sku] - kept.get(sku, 0) for sku in SIMPLE)
