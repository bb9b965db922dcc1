"""The domains emit their events at their central points, and the worker delivers them: orders created and
moved through the API, orders pulled from the sandbox marketplace (payment approved, cancelled after
integration), listing statuses changed by the seller or by stock, and stock alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.models import SandboxListing
from alephee.orders import statuses as st
from alephee.sandbox import buyers
from alephee.sandbox import state as sandbox
from alephee.sandbox.buyers import SaleMix
from tests.fixtures.listings import build_shop
from tests.fixtures.marketplaces import Shop, pull
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver

QUIET = SaleMix(cart=0, pending_payment=0, late_cancellation=0, fraud=0, claim=0, logistics=(("drop_off", 1),))
SIMPLE = ["MATE-01", "YERBA-1K", "BOMBI-01", "TERMO-1L"]


def _events(receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    return [(r.json["Type"], r.json["Data"]) for r in receiver.delivered()]


def test_orders_created_and_cancelled_through_the_api(
    client: TestClient, seller: Tenant, add_order: AddOrder, hooks: Hooks, receiver: Receiver
) -> None:
    hooks.subscribe(seller.account_id, receiver.url, ["*"])
    order_id = add_order(seller, origin="api", status=st.READY_TO_SHIP)
    tracking_only = [{"OrderId": order_id, "Status": st.READY_TO_SHIP, "Tracking": {"Number": "T1", "Status": "x"}}]
    assert client.put("/v2/orders", params=seller.q(), json=tracking_only).json()["Results"][0]["Status"] == 200
    response = client.put("/v2/orders", params=seller.q(), json=[{"OrderId": order_id, "Status": st.CANCELLED}])
    assert response.json()["Results"][0]["Status"] == 200, response.text
    hooks.drain()
    events = _events(receiver)
    assert [t for t, _ in events] == ["order.created", "order.status_changed", "order.cancelled"]
    assert {d["OrderId"] for _, d in events} == {order_id}
    assert events[0][1]["Status"] == st.READY_TO_SHIP
    assert (events[2][1]["PreviousStatus"], events[2][1]["Status"]) == (st.READY_TO_SHIP, st.CANCELLED)


def test_listing_statuses_and_stock_alerts(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant], hooks: Hooks, receiver: Receiver
) -> None:
    shop = build_shop(ctx, make_tenant)
    hooks.subscribe(shop.tenant.account_id, receiver.url, ["listing.status_changed", "product.stock_alert"])
    external = shop.external[("MKNJ-122", 100)]
    body = [{"ExternalPublications": [{"ID": external}], "Status": 2}]
    assert client.put("/v2/productlistings/update-status", params=shop.tenant.q(), json=body).status_code == 200
    stock = [{"SKU": "H4", "Stock": {"Quantity": 0, "Alert": {"RedQty": 1, "YellowQty": 2}}}]
    assert client.post("/v2/products", params=shop.tenant.q(), json=stock).status_code == 200
    hooks.drain()
    events = _events(receiver)
    user_pause = [d for t, d in events if t == "listing.status_changed" and d["StatusReason"] == "user"]
    assert [(d["ListingId"], d["PreviousStatus"], d["Status"]) for d in user_pause] == [
        (shop.listings[("MKNJ-122", 100)], "active", "paused")
    ]
    stock_pauses = {d["ListingId"] for t, d in events if t == "listing.status_changed" and d["StatusReason"] == "stock"}
    h4 = {lid for (sku, _), lid in shop.listings.items() if sku == "H4"}
    assert h4 and h4 <= stock_pauses
    alerts = [d for t, d in events if t == "product.stock_alert"]
    assert alerts == [
        {"ProductId": shop.products["H4"], "Sku": "H4", "Quantity": 0, "Level": "red", "RedQty": 1, "YellowQty": 2}
    ]


def _sell(ctx: AppContext, shop: Shop, orders: int, *, seed: int, mix: SaleMix) -> buyers.SellReport:
    with ctx.db.writing() as session:
        return buyers.sell(session, shop.account_id, orders=orders, seed=seed, mix=mix)


def _advance(ctx: AppContext, hours: float) -> None:
    clock.advance(timedelta(seconds=2))
    with ctx.db.writing() as session:
        sandbox.advance(session, hours)
        buyers.progress(session)


def test_orders_pulled_from_the_marketplace(
    client: TestClient, ctx: AppContext, open_shop: Callable[..., Shop], hooks: Hooks, receiver: Receiver
) -> None:
    shop = open_shop()
    keep = [shop.external_ids[s] for s in SIMPLE]
    with ctx.db.writing() as session:
        session.execute(
            update(SandboxListing)
            .where(SandboxListing.external_id.not_in(keep))
            .values(status="paused", seller_status="paused")
        )
    hooks.subscribe(shop.account_id, receiver.url, ["order.created", "order.payment_approved", "order.cancelled"])
    pending = _sell(ctx, shop, 2, seed=5, mix=replace(QUIET, pending_payment=1, pending_approves=1))
    late = _sell(ctx, shop, 1, seed=9, mix=replace(QUIET, late_cancellation=1))
    pull(ctx)
    hooks.drain()
    created = {d["ExternalOrderId"]: d for t, d in _events(receiver) if t == "order.created"}
    assert set(created) == set(pending.orders) | set(late.orders)
    assert {created[e]["PaymentPending"] for e in pending.orders} == {True}

    # The ERP integrates the late-cancelled order, then the marketplace cancels it.
    late_id = created[late.orders[0]]["OrderId"]
    integrate = [{"OrderId": late_id, "OwnOrderId": "ERP-1"}]
    assert client.put("/v2/orders/integrate", params=shop.tenant.q(), json=integrate).status_code == 200
    _advance(ctx, 50)
    pull(ctx)
    hooks.drain()
    approved = [d for t, d in _events(receiver) if t == "order.payment_approved"]
    assert sorted(d["ExternalOrderId"] for d in approved) == sorted(pending.orders)
    assert {d["PaymentPending"] for d in approved} == {False}
    [cancelled] = [d for t, d in _events(receiver) if t == "order.cancelled"]
    assert (cancelled["OrderId"], cancelled["Integrated"], cancelled["Status"]) == (late_id, True, st.CANCELLED)
    assert cancelled["IntegratedOrderId"] == "ERP-1"


def test_deleting_an_api_order_is_a_status_change(
    client: TestClient, seller: Tenant, add_order: AddOrder, hooks: Hooks, receiver: Receiver
) -> None:
    order_id = add_order(seller, origin="api", status=st.READY_TO_SHIP)
    hooks.subscribe(seller.account_id, receiver.url, ["order.status_changed"])
    response = client.delete("/v2/orders", params=seller.q(orderId=order_id))
    assert response.status_code == 204, response.text
    hooks.drain()
    events = _events(receiver)
    assert [t for t, _ in events] == ["order.status_changed"]
    assert (events[0][1]["PreviousStatus"], events[0][1]["Status"]) == (st.READY_TO_SHIP, st.DELETED)
