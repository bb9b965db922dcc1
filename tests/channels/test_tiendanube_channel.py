"""The Tiendanube channel against a fake store: publishing a product and a variation master (language objects,
money strings, option values), refusing before creating anything when data is missing, adopting a product a
retried create already made, price and stock through stock-price (only what differs, ≤ 50 variants a call,
unknown and infinite-stock variants left alone, per-variant refusals named), publishing and hiding, the
store's errors as delivery errors, linking pages, events read fresh, an order's stock moved once by the
variation's SKU, and the hub's statuses sent back (v1 and fulfillment orders)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from alephee.channels import connections
from alephee.channels.tiendanube.channel import TiendanubeChannel
from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import (
    ChannelNotice,
    ConnectionHeld,
    ListingPush,
    ListingStatusPush,
    OrderRef,
    OrderStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.registry import get_channel, marketplace_ref
from alephee.orders import statuses as st
from alephee.orders.models import Order
from alephee.products.models import Product, ProductPrice
from alephee.products.schemas import VARIATION_CHILD, VARIATION_MASTER
from alephee.sync.order_feed import OrderSync
from tests.channels.tiendanube_fake import (
    MARKETPLACE,
    FakeTiendanube,
    Linked,
    add_listing,
    link,
    order_json,
    product_json,
    reply,
)
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant


@dataclass
class Shop:
    linked: Linked
    product_id: int
    listing_id: int
    children: tuple[int, ...] = ()

    @property
    def fake(self) -> FakeTiendanube:
        return self.linked.fake


def body(request: Any) -> Any:
    return json.loads(request.content)


def set_listing(ctx: AppContext, listing_id: int, **values: Any) -> None:
    with ctx.db.writing() as session:
        row = session.get(Listing, listing_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


def make_shop(ctx: AppContext, make_tenant: Callable[..., Tenant], *, version: str = "v1", **listing: Any) -> Shop:
    """A normal product REM-1 listed (pending) on the store."""
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    with ctx.db.writing() as session:
        product_id = add_product(session, tenant.account_id, "REM-1", brand="Acme", quantity=7)
        product = session.get(Product, product_id)
        assert product is not None
        product.pictures = ["https://cdn.example/rem.jpg"]
        product.description = "Algodón"
        listing_id = add_listing(session, tenant.account_id, product_id, **listing)
    return Shop(link(ctx, tenant.account_id, FakeTiendanube(), version=version), product_id, listing_id)


def make_master(
    ctx: AppContext, make_tenant: Callable[..., Tenant], colours: list[str], *, quantity: int = 4, **listing: Any
) -> Shop:
    """A variation master REM (children REM-<colour>, attributes Color/Material) priced 100 in the default list
    (the last child 110), listed (pending) on the store."""
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    with ctx.db.writing() as session:
        master = add_product(session, tenant.account_id, "REM", brand="Acme", product_type=VARIATION_MASTER)
        price_list = add_price_list(session, tenant.account_id, "Lista", is_default=True)
        session.add(ProductPrice(product_id=master, price_list_id=price_list, price=Decimal(100), price_with_taxes=100))
        children = []
        for n, colour in enumerate(colours):
            child = add_product(
                session,
                tenant.account_id,
                f"REM-{colour}",
                brand="Acme",
                product_type=VARIATION_CHILD,
                parent_id=master,
                quantity=quantity,
                attributes=[{"Name": "Color", "Value": colour}, {"Name": "Material", "Value": "Algodón"}],
            )
            price = Decimal(110) if n == len(colours) - 1 else Decimal(100)
            session.add(ProductPrice(product_id=child, price_list_id=price_list, price=price, price_with_taxes=price))
            children.append(child)
        listing_id = add_listing(
            session, tenant.account_id, master, sku="REM", quantity=quantity * len(colours), **listing
        )
    return Shop(link(ctx, tenant.account_id, FakeTiendanube()), master, listing_id, tuple(children))


def publish(shop: Shop) -> Any:
    return shop.linked.channel.publish_listing(shop.linked.context, ListingPush(listing_id=shop.listing_id))


def test_registered_as_the_tiendanube_connector() -> None:
    channel = get_channel("tiendanube")
    assert channel.connector == "tiendanube" and channel.in_database is False
    assert isinstance(channel, TiendanubeChannel)
    assert channel.labels_from_marketplace is False and channel.assigns_listing_ids is True


# --- publishing ------------------------------------------------------------------------------------------------


def test_create_a_product_in_every_store_language(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant)

    receipt = publish(shop)

    [create] = shop.fake.sent("POST", "/products")
    assert body(create) == {
        "name": {"es": "Remera básica", "pt": "Remera básica"},
        "description": {"es": "Algodón", "pt": "Algodón"},
        "attributes": [],
        "variants": [{"sku": "REM-1", "price": "100.00", "stock": 7, "values": []}],
        "published": True,
        "brand": "Acme",
        "images": [{"src": "https://cdn.example/rem.jpg"}],
    }
    assert receipt.external_id == str(next(iter(shop.fake.products)))
    assert receipt.status == "active" and receipt.available_quantity == 7
    assert receipt.permalink is not None and receipt.permalink.startswith("https://store.example/")


def test_create_a_master_with_its_variations(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_master(ctx, make_tenant, ["Rojo", "Azul"])

    publish(shop)

    sent = body(shop.fake.sent("POST", "/products")[0])
    assert sent["attributes"] == [{"es": "Color", "pt": "Color"}]  # Material is the same for all: no option
    assert sent["variants"] == [
        {"sku": "REM-Rojo", "price": "100.00", "stock": 4, "values": [{"es": "Rojo", "pt": "Rojo"}]},
        {"sku": "REM-Azul", "price": "110.00", "stock": 4, "values": [{"es": "Azul", "pt": "Azul"}]},
    ]


def test_missing_data_names_it_and_creates_nothing(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, price=None, status="paused", status_reason="no_price", title=" ")

    with pytest.raises(PermanentDeliveryError) as refused:
        publish(shop)

    assert refused.value.message == "cannot publish on Tiendanube: missing name, price of REM-1"
    assert not shop.fake.sent("POST") and shop.fake.products == {}


def test_a_retried_create_adopts_the_product_of_its_sku(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant)
    shop.fake.products[2**40] = product_json(2**40, [(2**41, "REM-1", "90.00", 7, [])])

    receipt = publish(shop)

    assert receipt.external_id == str(2**40) and not shop.fake.sent("POST", "/products")
    [patch] = shop.fake.bodies("PATCH", "/products/stock-price")
    assert patch == [{"id": 2**40, "variants": [{"id": 2**41, "price": "100.00"}]}]


def test_a_product_without_options_is_its_one_variant_whatever_its_sku(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, external_id=str(2**40))
    shop.fake.products[2**40] = product_json(2**40, [(1, "ERP-OWN-CODE", "90.00", 2, [])])

    publish(shop)

    assert shop.fake.bodies("PATCH", "/products/stock-price") == [
        [{"id": 2**40, "variants": [{"id": 1, "price": "100.00", "inventory_levels": [{"stock": 7}]}]}]
    ]


def test_finished_before_publishing_creates_nothing(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, status="finished")
    receipt = publish(shop)
    assert receipt.status == "closed" and not shop.fake.requests


# --- price, stock and status -------------------------------------------------------------------------------------


def test_update_sends_only_what_differs_and_leaves_unknown_and_infinite_variants(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_master(ctx, make_tenant, ["Rojo", "Azul", "Verde"], external_id=str(2**40))
    shop.fake.products[2**40] = product_json(
        2**40,
        [
            (1, "REM-Rojo", "100.00", 4, ["Rojo"]),  # as the hub has it
            (2, "REM-Azul", "90.00", None, ["Azul"]),  # infinite stock in the store
            (3, "OTHER", "5.00", 1, ["Negro"]),  # the hub does not know it
        ],
        attributes=["Color"],
    )

    receipt = publish(shop)

    # Azul gets its price, never a stock number.
    assert shop.fake.bodies("PATCH", "/products/stock-price") == [
        [{"id": 2**40, "variants": [{"id": 2, "price": "100.00"}]}]
    ]
    # Verde is missing in the store: added as a variant, never by PUT of the whole list.
    [added] = shop.fake.bodies("POST", f"/products/{2**40}/variants")
    assert added == {"sku": "REM-Verde", "price": "110.00", "stock": 4, "values": [{"es": "Verde", "pt": "Verde"}]}
    assert not shop.fake.sent("PUT")
    variants = {v["sku"]: v for v in shop.fake.products[2**40]["variants"]}
    assert variants["REM-Azul"]["stock"] is None and variants["OTHER"]["stock"] == 1
    assert receipt.external_id == str(2**40)

    # Nothing differs any more: only the read.
    before = len(shop.fake.requests)
    publish(shop)
    assert [r.method for r in shop.fake.requests[before:]] == ["GET"]


def test_a_variation_whose_sku_changed_is_renamed_not_added(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_master(ctx, make_tenant, ["Rojo", "Azul"], external_id=str(2**40))
    shop.fake.products[2**40] = product_json(
        2**40,
        [
            (1, "REM-Rojo", "100.00", 4, ["Rojo"]),
            (2, "REM-AZ-OLD", "110.00", 4, ["Azul"]),  # the hub's REM-Azul before its SKU changed
        ],
        attributes=["Color"],
    )

    publish(shop)

    # The store's variant with the same option values takes the new SKU; nothing is added.
    assert not shop.fake.sent("POST")
    assert [r.url.path for r in shop.fake.sent("PUT")] == [f"/v1/1234567/products/{2**40}/variants/2"]
    assert shop.fake.bodies("PUT") == [{"sku": "REM-Azul"}]
    assert [v["sku"] for v in shop.fake.products[2**40]["variants"]] == ["REM-Rojo", "REM-Azul"]
    before = len(shop.fake.requests)
    publish(shop)  # they agree now: only the read
    assert [r.method for r in shop.fake.requests[before:]] == ["GET"]


def test_stock_and_price_go_in_calls_of_at_most_50_variants(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    colours = [f"C{n:02d}" for n in range(60)]
    shop = make_master(ctx, make_tenant, colours, external_id=str(2**40))
    shop.fake.products[2**40] = product_json(
        2**40, [(n + 1, f"REM-{c}", "1.00", 0, [c]) for n, c in enumerate(colours)], attributes=["Color"]
    )

    publish(shop)

    batches = shop.fake.bodies("PATCH", "/products/stock-price")
    assert [sum(len(p["variants"]) for p in b) for b in batches] == [50, 10]
    assert all(v["stock"] == 4 for v in shop.fake.products[2**40]["variants"])


def test_refused_variants_are_named_after_the_others_applied(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_master(ctx, make_tenant, ["Rojo", "Azul"], external_id=str(2**40))
    shop.fake.products[2**40] = product_json(
        2**40, [(1, "REM-Rojo", "1.00", 0, ["Rojo"]), (2, "REM-Azul", "1.00", 0, ["Azul"])], attributes=["Color"]
    )
    shop.fake.refuse_variants = {2}

    with pytest.raises(PermanentDeliveryError) as refused:
        publish(shop)

    assert refused.value.message == "Tiendanube did not apply: REM-Azul: not applied"
    assert shop.fake.products[2**40]["variants"][0]["stock"] == 4


def test_a_seller_pause_hides_the_product_and_a_stock_pause_does_not(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, external_id=str(2**40), status="paused", status_reason="user")
    shop.fake.products[2**40] = product_json(2**40, [(1, "REM-1", "100.00", 7, [])])
    change = ListingStatusPush(status="paused", listing_id=shop.listing_id)

    receipt = shop.linked.channel.set_listing_status(shop.linked.context, change)

    assert shop.fake.bodies("PUT", f"/products/{2**40}") == [{"published": False}] and receipt.status == "paused"
    set_listing(ctx, shop.listing_id, status_reason="stock", available_quantity=0)
    receipt = shop.linked.channel.set_listing_status(shop.linked.context, change)
    assert shop.fake.bodies("PUT", f"/products/{2**40}")[-1] == {"published": True}
    assert shop.fake.products[2**40]["variants"][0]["stock"] == 0 and receipt.available_quantity == 0


def test_store_errors_become_delivery_errors(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id=str(2**40))
    shop.fake.products[2**40] = product_json(2**40, [(1, "REM-1", "1.00", 0, [])])
    path = f"/products/{2**40}"
    shop.fake.fail("GET", path, reply(429, None, **{"x-rate-limit-reset": "1500"}))
    with pytest.raises(TransientDeliveryError):
        publish(shop)
    shop.fake.fail("PATCH", "/products/stock-price", reply(422, {"code": 422, "price": ["must be a number."]}))
    with pytest.raises(PermanentDeliveryError) as refused:
        publish(shop)
    assert "price: must be a number." in refused.value.message
    shop.fake.fail("GET", path, reply(402, None))
    with pytest.raises(ConnectionHeld):
        publish(shop)
    with ctx.db.writing() as session:  # paid again
        connections.resume(session, shop.linked.account_id, MARKETPLACE, now=utcnow())
    shop.fake.products.clear()
    with pytest.raises(PermanentDeliveryError, match="no longer exists"):
        publish(shop)
    shop.fake.fail("GET", path, reply(401, None))
    with pytest.raises(ConnectionHeld):
        publish(shop)
    with pytest.raises(ConnectionHeld):  # disconnected: held without calling
        publish(shop)


# --- linking and events -------------------------------------------------------------------------------------------


def test_list_listings_pages_through_the_products(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant)
    for n in range(3):
        shop.fake.products[100 + n] = product_json(100 + n, [(200 + n, f"SKU-{n}", "1.00", n, [])])

    first = shop.linked.channel.list_listings(shop.linked.context, None, 2)
    second = shop.linked.channel.list_listings(shop.linked.context, first.cursor, 2)

    assert [s.external_id for s in first.listings] == ["100", "101"] and first.has_more and first.cursor == "2"
    assert [s.sku for s in second.listings] == ["SKU-2"] and not second.has_more and second.cursor is None


def test_events_read_the_resource_fresh(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant)
    shop.fake.orders[2**40] = order_json(2**40, [(5, 6, "REM-1", 1, "100.00")])
    shop.fake.products[5] = product_json(5, [(6, "REM-1", "100.00", 3, [])])
    read = shop.linked.channel.read_notice
    context = shop.linked.context

    [order] = read(context, ChannelNotice(topic="order/paid", resource=str(2**40))).orders
    assert order.external_order_id == str(2**40) and order.items[0].sku == "REM-1"
    [listing] = read(context, ChannelNotice(topic="product/updated", resource="5")).listings
    assert listing.sku == "REM-1" and listing.available_quantity == 3
    [gone] = read(context, ChannelNotice(topic="product/deleted", resource="9")).listings
    assert (gone.external_id, gone.status) == ("9", "closed")
    # Hidden in the store: the seller's pause while the hub's listing is active; the hub's own otherwise.
    shop.fake.products[5]["published"] = False
    set_listing(ctx, shop.listing_id, external_id="5")
    [hidden] = read(context, ChannelNotice(topic="product/updated", resource="5")).listings
    assert (hidden.status, hidden.sub_status) == ("paused", ("paused_by_seller",))
    set_listing(ctx, shop.listing_id, status="finished")
    [kept] = read(context, ChannelNotice(topic="product/updated", resource="5")).listings
    assert (kept.status, kept.sub_status) == ("hidden", ())
    assert read(context, ChannelNotice(topic="category/created", resource="1")).ignored
    assert read(context, ChannelNotice(topic="order/paid", resource="404")).ignored


def test_an_order_moves_the_variations_stock_once_and_a_cancellation_gives_it_back(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_master(ctx, make_tenant, ["Rojo", "Azul"], external_id=str(2**40))
    account = shop.linked.account_id
    order = order_json(2**40 + 1, [(2**40, 7, "REM-Azul", "2", "110.00")])
    entry = shop.linked.channel.read_notice  # the order as the event reads it
    shop.fake.orders[2**40 + 1] = order
    [channel_order] = entry(shop.linked.context, ChannelNotice(topic="order/created", resource=str(2**40 + 1))).orders

    with ctx.db.writing() as session:
        sync = OrderSync(session, account, marketplace_ref(session, MARKETPLACE))
        assert sync.apply(channel_order) == "created"
        assert sync.apply(channel_order) == "unchanged"
    with ctx.db.reading() as session:
        quantities = [session.get(Product, c).quantity for c in shop.children]  # type: ignore[union-attr]
        assert quantities == [4, 2]  # the blue one, by its SKU, once
        row = session.scalar(select(Order).where(Order.external_order_id == str(2**40 + 1)))
        assert row is not None and row.status == st.READY_TO_SHIP
        detail = json.loads(row.detail)
        assert Decimal(str(detail["Shipping"]["ReceiverCost"])) == Decimal(30)
        [payment] = detail["Payments"]
        assert [(d["Code"], Decimal(str(d["Amount"]))) for d in payment["Discounts"]] == [("PROMO", Decimal(15))]
        assert detail["ExternalJson"]["shipping"]["option"] == "Envío a domicilio"
        assert detail["Items"][0]["Product"]["Sku"] == "REM-Azul"

    order["status"] = "cancelled"
    [cancelled] = entry(shop.linked.context, ChannelNotice(topic="order/cancelled", resource=str(2**40 + 1))).orders
    with ctx.db.writing() as session:
        OrderSync(session, account, marketplace_ref(session, MARKETPLACE)).apply(cancelled)
    with ctx.db.reading() as session:
        assert [session.get(Product, c).quantity for c in shop.children] == [4, 4]  # type: ignore[union-attr]


def test_the_order_backstop_pages_a_window_and_keeps_the_latest_update(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant)
    for n in range(3):
        order = order_json(2**40 + n, [(5, 6, "REM-1", 1, "100.00")])
        order["updated_at"] = f"2026-12-01T10:0{n}:00+0000"
        shop.fake.orders[2**40 + n] = order
    pull = shop.linked.channel.pull_orders

    first = pull(shop.linked.context, "2026-12-01T09:00:00+00:00", 2)
    second = pull(shop.linked.context, first.cursor, 2)

    [request, _] = shop.fake.sent("GET", "/orders")
    assert request.url.params["updated_at_min"] == "2026-12-01T08:55:00+00:00"
    assert (request.url.params["page"], request.url.params["per_page"]) == ("1", "2")
    assert len(first.orders) == 2 and first.has_more
    assert first.cursor == "2026-12-01T10:01:00+00:00 2026-12-01T08:55:00+00:00 2"
    assert [o.external_order_id for o in second.orders] == [str(2**40 + 2)] and not second.has_more
    assert second.cursor == "2026-12-01T10:02:00+00:00"


# --- orders out ---------------------------------------------------------------------------------------------------


def push_status(shop: Shop, status: int, **tracking: Any) -> None:
    update = OrderStatusPush(order=OrderRef(external_order_id=str(2**40)), status=status, **tracking)
    shop.linked.channel.push_order_status(shop.linked.context, update)


def test_statuses_go_back_through_pack_fulfill_close_and_cancel(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant)
    shop.fake.orders[2**40] = order_json(2**40, [(5, 6, "REM-1", 1, "100.00")])

    push_status(shop, st.READY_TO_SHIP)
    push_status(shop, st.READY_TO_SHIP)  # already packed: nothing sent
    assert len(shop.fake.sent("POST", f"/orders/{2**40}/pack")) == 1
    push_status(shop, st.SHIPPED, tracking_number="OA1", tracking_url="https://track.example/OA1")
    assert shop.fake.bodies("POST", f"/orders/{2**40}/fulfill") == [
        {
            "notify_customer": True,
            "shipping_tracking_number": "OA1",
            "shipping_tracking_url": "https://track.example/OA1",
        }
    ]
    push_status(shop, st.DELIVERED)
    assert shop.fake.orders[2**40]["status"] == "closed"
    assert len(shop.fake.sent("POST", f"/orders/{2**40}/fulfill")) == 1
    push_status(shop, st.DELIVERED)  # closed: reopened, nothing left to ship, closed again
    assert len(shop.fake.sent("POST", f"/orders/{2**40}/open")) == 1

    push_status(shop, st.CANCELLED)
    push_status(shop, st.CANCELLED)
    assert shop.fake.bodies("POST", f"/orders/{2**40}/cancel") == [{"reason": "other", "email": True, "restock": True}]
    with pytest.raises(PermanentDeliveryError, match="cancelled on Tiendanube"):
        push_status(shop, st.SHIPPED)
    push_status(shop, st.DELETED)  # not a status the store keeps: nothing sent
    assert len(shop.fake.sent("POST")) == 6


def test_dated_versions_ship_through_fulfillment_orders(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, version="2025-03")
    shop.fake.orders[2**40] = order_json(2**40, [(5, 6, "REM-1", 1, "100.00")])
    fo = "01FHZXHK8PTP9FVK99Z66GXKKK"
    shop.fake.fulfillment[2**40] = [{"id": fo, "status": "UNPACKED"}]

    push_status(shop, st.SHIPPED, tracking_number="OA1", tracking_url="https://track.example/OA1")

    assert shop.fake.bodies("PATCH", f"/orders/{2**40}/fulfillment-orders/{fo}") == [
        {"status": "PACKED"},
        {
            "status": "DISPATCHED",
            "tracking_info": {"code": "OA1", "url": "https://track.example/OA1", "notify_customer": True},
        },
    ]
    assert not shop.fake.sent("POST", f"/orders/{2**40}/fulfill")
    push_status(shop, st.SHIPPED)  # already dispatched: nothing more
    assert len(shop.fake.sent("PATCH")) == 2
