"""The sandbox's simulated buyers and its own life in simulated time: determinism, never overselling, carts,
and every scheduled fate (payments settling, shipments moving, late cancellations, fraud, claims)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from alephee import clock
from alephee.errors import InvalidInput
from alephee.http.context import AppContext
from alephee.marketplaces.contract import ChannelContext, ListingPush, OrderPage
from alephee.marketplaces.models import SandboxListing, SandboxOrder
from alephee.sandbox import buyers
from alephee.sandbox import state as sandbox
from alephee.sandbox.buyers import SaleMix
from alephee.sync.calls import channel_for
from tests.fixtures.database import empty_tables

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACCOUNT = 1
# Nothing happens by chance: each test turns on the fates it looks at.
QUIET = SaleMix(cart=0, pending_payment=0, late_cancellation=0, fraud=0, claim=0, logistics=(("drop_off", 1),))


def publish(ctx: AppContext, quantities: dict[str, int], *, status: str = "active", marketplace: int = 100) -> None:
    """Sandbox listings as the hub would have pushed them (``external id → quantity``)."""
    with ctx.db.writing() as session:
        channel, base = channel_for(session, marketplace, ACCOUNT)
        ctx_ = ChannelContext(account_id=ACCOUNT, marketplace=base.marketplace, session=session)
        for external, quantity in sorted(quantities.items()):
            n = int(external[3:]) + 1  # the hub listing id behind MLA<n>
            channel.publish_listing(
                ctx_,
                ListingPush(
                    listing_id=n,
                    external_id=external,
                    sku=f"SKU-{external}",
                    title=f"Item {external}",
                    price=Decimal(100 * n),
                    currency="ARS",
                    quantity=quantity,
                    status=status,
                ),
            )


def sell(ctx: AppContext, orders: int, *, seed: int | None = 7, mix: SaleMix = buyers.DEFAULT_MIX) -> buyers.SellReport:
    with ctx.db.writing() as session:
        return buyers.sell(session, ACCOUNT, orders=orders, seed=seed, mix=mix)


def advance(ctx: AppContext, hours: float) -> buyers.ProgressReport:
    with ctx.db.writing() as session:
        sandbox.advance(session, hours)
        return buyers.progress(session)


def feed(ctx: AppContext, cursor: str | None = None, marketplace: int = 100) -> OrderPage:
    with ctx.db.writing() as session:
        channel, base = channel_for(session, marketplace, ACCOUNT)
        return channel.pull_orders(
            ChannelContext(account_id=ACCOUNT, marketplace=base.marketplace, session=session), cursor, 1000
        )


def orders(ctx: AppContext) -> list[SandboxOrder]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(SandboxOrder).order_by(SandboxOrder.id)))


def listings(ctx: AppContext) -> dict[str, SandboxListing]:
    with ctx.db.reading() as session:
        return {row.external_id: row for row in session.scalars(select(SandboxListing))}


def snapshot(ctx: AppContext) -> list[tuple[Any, ...]]:
    """Everything a sale decided, times as offsets from the sale."""
    out = []
    for order in orders(ctx):
        detail = order.detail
        schedule = {
            name: datetime.fromisoformat(at) - order.date_created for name, at in detail.get("schedule", {}).items()
        }
        out.append(
            (
                order.external_order_id,
                order.pack_id,
                order.pack_size,
                order.status,
                order.payment_status,
                order.logistic_type,
                order.external_shipping_id,
                order.change_seq,
                [(i["external_listing_id"], i["quantity"], i["unit_price"]) for i in detail["items"]],
                [(p["id"], p["method"], p["installments"], p["amount"]) for p in detail["payments"]],
                detail["buyer"]["nickname"],
                sorted(schedule.items()),
                detail.get("settle_outcome"),
            )
        )
    return out


def test_the_same_seeds_give_the_same_orders(ctx: AppContext) -> None:
    stock = {"MLA1": 9, "MLA2": 4, "MLA3": 6, "MLA4": 12}
    runs = []
    for seed in (7, 7, 8):
        empty_tables(ctx.db)
        publish(ctx, stock)
        with clock.frozen(T0):
            report = sell(ctx, 12, seed=seed)
        assert len(report.orders) == 12 and report.seed == seed
        runs.append((snapshot(ctx), {k: v.available_quantity for k, v in listings(ctx).items()}))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    # The default mix produces a bit of everything over enough sales.
    empty_tables(ctx.db)
    publish(ctx, {f"MLA{n}": 50 for n in range(10)})
    with clock.frozen(T0):
        report = sell(ctx, 200, seed=1)
    assert report.carts and report.pending_payments and report.late_cancellations and report.claims
    assert report.fraudulent and report.delayed
    assert {o.logistic_type for o in orders(ctx)} == {name for name, _ in buyers.LOGISTICS}


def test_buyers_never_buy_more_than_the_sandbox_has(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 1, "MLA2": 2, "MLA3": 3})
    publish(ctx, {"MLA9": 50}, status="paused")  # a paused listing is not for sale
    report = sell(ctx, 100)
    assert 3 <= len(report.orders) <= 6 and report.units == 6
    sold: dict[str, int] = {}
    for order in orders(ctx):
        for item in order.detail["items"]:
            sold[item["external_listing_id"]] = sold.get(item["external_listing_id"], 0) + item["quantity"]
    assert sold == {"MLA1": 1, "MLA2": 2, "MLA3": 3}
    after = listings(ctx)
    for external in ("MLA1", "MLA2", "MLA3"):
        row = after[external]
        assert (row.available_quantity, row.status, row.sub_status) == (0, "paused", "out_of_stock")
        assert row.sold_quantity == sold[external]
    assert after["MLA9"].sold_quantity == 0
    again = sell(ctx, 5)
    assert again.orders == [] and again.message == buyers.NO_LISTINGS


def test_concurrent_buyers_share_the_stock(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 5, "MLA2": 5, "MLA3": 5})
    errors: list[BaseException] = []

    def buy(seed: int) -> None:
        try:
            for _ in range(5):
                sell(ctx, 3, seed=seed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=buy, args=(seed,)) for seed in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    units = sum(i["quantity"] for o in orders(ctx) for i in o.detail["items"])
    assert units == 15
    assert all(row.available_quantity == 0 for row in listings(ctx).values())
    assert len({o.external_order_id for o in orders(ctx)}) == len(orders(ctx))


def test_a_cart_shares_buyer_payment_and_shipment_and_a_late_member_arrives_later(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 5, "MLA2": 5, "MLA3": 5})
    report = sell(ctx, 3, mix=replace(QUIET, cart=1, cart_delay=1))
    assert (report.carts, report.delayed, len(report.orders)) == (1, 1, 3)
    cart = orders(ctx)
    assert len({o.pack_id for o in cart}) == 1 and cart[0].pack_id is not None
    assert {o.pack_size for o in cart} == {3}
    assert len({o.external_shipping_id for o in cart}) == 1
    assert len({o.detail["payments"][0]["id"] for o in cart}) == 1
    assert len({o.detail["buyer"]["nickname"] for o in cart}) == 1
    assert {o.detail["payments"][0]["amount"] for o in cart} == {str(sum(o.total or 0 for o in cart))}
    first = feed(ctx)
    assert [o.external_order_id for o in first.orders] == report.orders[:2]
    assert all(o.pack_size == 3 and o.pack_id == cart[0].pack_id for o in first.orders)
    assert feed(ctx, first.cursor).orders == ()
    progress = advance(ctx, 3)
    assert progress.events.get("release") == 1
    late = feed(ctx, first.cursor)
    assert [o.external_order_id for o in late.orders] == report.orders[2:]


def test_pending_payments_settle_later(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 20, "MLA2": 20})
    approved = sell(ctx, 3, mix=replace(QUIET, pending_payment=1, pending_approves=1))
    rejected = sell(ctx, 2, seed=8, mix=replace(QUIET, pending_payment=1, pending_approves=0))
    assert approved.pending_payments == 3 and rejected.pending_payments == 2
    for order in orders(ctx):
        assert (order.status, order.payment_status, order.shipping_status) == (
            "payment_in_process",
            "pending",
            "pending",
        )
        assert order.detail["payments"][0]["method"] in buyers.DEFERRED_METHODS
    advance(ctx, 31)
    by_id = {o.external_order_id: o for o in orders(ctx)}
    for external in approved.orders:
        order = by_id[external]
        assert (order.status, order.payment_status) == ("paid", "approved")
        assert order.detail["payments"][0]["status"] == "approved" and order.detail["payments"][0]["date_approved"]
        assert order.shipping_status == "ready_to_ship"
    for external in rejected.orders:
        order = by_id[external]
        assert (order.status, order.payment_status, order.shipping_status) == ("cancelled", "cancelled", "cancelled")
        assert order.next_event_at is None  # nothing else will happen to it


def test_marketplace_logistics_move_the_shipment_on_their_own(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 20})
    with clock.frozen(T0):
        sell(ctx, 1, mix=QUIET)
        sell(ctx, 1, seed=9, mix=replace(QUIET, logistics=(("self_service", 1),)))
        sell(ctx, 1, seed=10, mix=replace(QUIET, logistics=(("fulfillment", 1),)))
        dropoff, flex, full = orders(ctx)
        assert (dropoff.shipping_status, dropoff.shipping_substatus) == ("ready_to_ship", "ready_to_print")
        seen = []
        for _ in range(60):  # 60 × 4 h = 10 simulated days
            advance(ctx, 4)
            current = next(o for o in orders(ctx) if o.id == dropoff.id)
            state = (current.shipping_status, current.shipping_substatus)
            if not seen or seen[-1] != state:
                seen.append(state)
    assert seen == [("ready_to_ship", "printed"), ("shipped", None), ("delivered", None)]
    after = {o.id: o for o in orders(ctx)}
    # Seller-driven logistics (Flex) wait for the seller; fulfillment ships without a label.
    assert (after[flex.id].shipping_status, after[flex.id].shipping_substatus) == ("ready_to_ship", "ready_to_print")
    assert [e["event"] for e in after[full.id].detail["done"]] == ["ship", "deliver"]
    assert all(o.next_event_at is None for o in after.values())


def test_late_cancellations_fraud_and_claims(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 30, "MLA2": 30})
    late = sell(ctx, 2, mix=replace(QUIET, late_cancellation=1))
    fraud = sell(ctx, 2, seed=2, mix=replace(QUIET, fraud=1))
    claims = sell(ctx, 2, seed=3, mix=replace(QUIET, claim=1))
    assert (late.late_cancellations, fraud.fraudulent, claims.claims) == (2, 2, 2)
    first = feed(ctx)
    assert all(o.status == "paid" and not o.fraud for o in first.orders)
    advance(ctx, 17)  # fraud within 3 h, late cancellations within 16 h, nothing shipped yet
    by_id = {o.external_order_id: o for o in orders(ctx)}
    for external in late.orders:
        order = by_id[external]
        assert (order.status, order.payment_status, order.shipping_status, order.fraud) == (
            "cancelled",
            "refunded",
            "cancelled",
            False,
        )
    for external in fraud.orders:
        assert (by_id[external].status, by_id[external].fraud) == ("cancelled", True)
    changed = feed(ctx, first.cursor)
    assert {o.external_order_id for o in changed.orders} >= set(late.orders) | set(fraud.orders)
    advance(ctx, 24 * 10)
    by_id = {o.external_order_id: o for o in orders(ctx)}
    for external in claims.orders:
        order = by_id[external]
        assert order.claim_status == "opened" and order.shipping_status == "delivered"
        assert order.detail["claim"]["id"] == str(buyers.CLAIM_ID_BASE + order.id)
    entry = next(o for o in feed(ctx).orders if o.external_order_id == claims.orders[0])
    assert entry.claim and entry.raw["claim"]["id"]
    # Cancelled orders never ship nor get claims.
    assert all(by_id[e].shipping_status == "cancelled" for e in late.orders + fraud.orders)


def test_the_feed_brings_what_fell_due_without_an_advance(ctx: AppContext) -> None:
    publish(ctx, {"MLA1": 5})
    report = sell(ctx, 1, mix=replace(QUIET, pending_payment=1, pending_approves=1))
    first = feed(ctx)
    assert first.orders[0].payments[0].status == "pending"
    clock.advance(timedelta(hours=31))  # real time passes: the marketplace lives on
    later = feed(ctx, first.cursor)
    assert [o.external_order_id for o in later.orders] == report.orders
    assert later.orders[0].payments[0].status == "approved"


def test_sell_validates_its_arguments(ctx: AppContext) -> None:
    with ctx.db.writing() as session, pytest.raises(InvalidInput):
        buyers.sell(session, ACCOUNT, orders=0)
    with ctx.db.writing() as session, pytest.raises(InvalidInput):
        buyers.sell(session, ACCOUNT, orders=buyers.MAX_ORDERS_PER_SELL + 1)
    assert sell(ctx, 3).message == buyers.NO_LISTINGS  # nothing published


def test_sandbox_sell_and_advance_commands(ctx: AppContext, cli: Callable[..., Any]) -> None:
    publish(ctx, {"MLA1": 10, "MLA2": 10})
    report = cli("sandbox", "sell", "--account", str(ACCOUNT), "--orders", "4", "--seed", "3")
    assert report["Orders"] == 4 and report["Seed"] == 3 and len(report["ExternalOrderIds"]) == 4
    assert report["Units"] == sum(i["quantity"] for o in orders(ctx) for i in o.detail["items"])
    moved = cli("sandbox", "advance", "--hours", "200")
    assert moved["OffsetHours"] == 200 and moved["ChangedOrders"] >= 1 and moved["Events"]
    assert "orders must be between" in cli("sandbox", "sell", "--account", "1", "--orders", "0", ok=False).output
    assert "--hours" in cli("sandbox", "advance", "--hours", "-1", ok=False).output
    assert "only moves forward" in cli("sandbox", "advance", "--hours", "nan", ok=False).output
    assert "ids must be between" in cli("sandbox", "sell", "--account", "99999999999", ok=False).output
    nothing = cli("sandbox", "sell", "--account", "999")
    assert nothing["Orders"] == 0 and nothing["Message"] == buyers.NO_LISTINGS
