"""The Tiendanube channel against the local Tiendanube (the stand-in, over its ASGI app): a variation master
published as a product with variants, its price and stock kept in sync (the store's own decrement after a sale
never counted twice), an order read from its event with its stock moved once by the variation's SKU, then packed,
fulfilled with tracking, and another one cancelled with its stock given back on both sides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.channels import backstop
from alephee.channels.models import ChannelConnection
from alephee.channels.tiendanube import auth, upkeep
from alephee.channels.tiendanube.channel import TiendanubeChannel
from alephee.channels.tiendanube.client import TiendanubeClient
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn, create_app
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import record_marketplace_id
from alephee.marketplaces.contract import (
    ChannelContext,
    ChannelNotice,
    ListingPush,
    ListingReceipt,
    OrderRef,
    OrderStatusPush,
)
from alephee.marketplaces.registry import marketplace_ref
from alephee.orders import statuses as st
from alephee.orders.models import Order
from alephee.products.models import Product, ProductPrice
from alephee.products.schemas import VARIATION_CHILD, VARIATION_MASTER
from alephee.sync.feeds import Feed
from alephee.sync.links import link_listings
from alephee.sync.order_feed import OrderSync
from alephee.webhooks.crypto import encrypt_secret
from tests.channels.tiendanube_fake import MARKETPLACE, add_listing
from tests.fixtures.database import make_settings
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

API = "http://tn.example"


@dataclass
class World:
    ctx: AppContext
    standin: TiendanubeStandIn
    store_id: int
    channel: TiendanubeChannel
    context: ChannelContext
    account_id: int
    listing_id: int
    children: dict[str, int]
    http: TestClient
    token: str
    settings: Settings

    def publish(self) -> ListingReceipt:
        """Deliver the listing, and keep the id the store gave it as the outbox does."""
        receipt = self.channel.publish_listing(self.context, ListingPush(listing_id=self.listing_id))
        with self.ctx.db.writing() as session:
            record_marketplace_id(session, self.account_id, self.listing_id, receipt.external_id, receipt.permalink)
        return receipt

    def variants(self, product_id: int | None = None) -> dict[str, dict[str, Any]]:
        """The variants by SKU of the store's product (its only one when not named)."""
        products = self.standin.products(self.store_id)
        [product] = [p for p in products if product_id in (None, p["id"])]
        return {v["sku"]: v for v in product["variants"]}

    def quantity(self, sku: str) -> int:
        with self.ctx.db.reading() as session:
            product = session.get(Product, self.children[sku])
            assert product is not None
            return product.quantity

    def set_stock(self, sku: str, quantity: int) -> None:
        with self.ctx.db.writing() as session:
            product = session.get(Product, self.children[sku])
            assert product is not None
            product.quantity = quantity

    def apply_event(self, topic: str, order_id: int) -> str:
        result = self.channel.read_notice(self.context, ChannelNotice(topic=topic, resource=str(order_id)))
        [order] = result.orders
        with self.ctx.db.writing() as session:
            return OrderSync(session, self.account_id, marketplace_ref(session, MARKETPLACE)).apply(order)

    def push(self, order_id: int, status: int, **tracking: str) -> None:
        update = OrderStatusPush(order=OrderRef(external_order_id=str(order_id)), status=status, **tracking)
        self.channel.push_order_status(self.context, update)


@pytest.fixture
def world(ctx: AppContext, make_tenant: Callable[..., Tenant], tmp_path: Path) -> Iterator[World]:
    standin = TiendanubeStandIn(
        tmp_path / "tn.sqlite3", app_id=4321, client_secret="s3cret", auto_approve=True, webhooks=False
    )
    shop = standin.create_store(name="Tienda Uno", email="owner@uno.example")
    token = standin.issue_token(shop["id"])["access_token"]
    settings = make_settings(
        ctx.settings.database_url,
        tiendanube_api_url=API,
        tiendanube_api_version="v1",
        secret_key=Fernet.generate_key().decode(),
    )
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    children: dict[str, int] = {}
    now = clock.utcnow()
    with ctx.db.writing() as session:
        session.add(
            ChannelConnection(
                account_id=tenant.account_id,
                marketplace_id=MARKETPLACE,
                connector="tiendanube",
                seller_id=shop["id"],
                access_token=encrypt_secret(settings, token),
                refresh_token=encrypt_secret(settings, token),
                created_at=now,
                updated_at=now,
            )
        )
        price_list = add_price_list(session, tenant.account_id, "Lista", is_default=True)
        master = add_product(session, tenant.account_id, "REM", brand="Acme", product_type=VARIATION_MASTER)
        # A priced master: a listing without a price in its list is paused (no_price), variations or not.
        session.add(ProductPrice(product_id=master, price_list_id=price_list, price=Decimal(100), price_with_taxes=100))
        for size, quantity in (("S", 10), ("M", 5)):
            child = add_product(
                session,
                tenant.account_id,
                f"REM-{size}",
                brand="Acme",
                product_type=VARIATION_CHILD,
                parent_id=master,
                quantity=quantity,
                attributes=[{"Name": "Talle", "Value": size}],
            )
            session.add(
                ProductPrice(product_id=child, price_list_id=price_list, price=Decimal(100), price_with_taxes=100)
            )
            children[f"REM-{size}"] = child
        listing_id = add_listing(session, tenant.account_id, master, sku="REM", quantity=15, title="Remera básica")
        marketplace = marketplace_ref(session, MARKETPLACE)
    http = TestClient(create_app(standin), base_url=API)
    channel = TiendanubeChannel(lambda s: TiendanubeClient(s, http))
    context = ChannelContext(account_id=tenant.account_id, marketplace=marketplace, db=ctx.db, settings=settings)
    account = tenant.account_id
    yield World(ctx, standin, shop["id"], channel, context, account, listing_id, children, http, token, settings)
    standin.close()


def test_publish_then_keep_price_and_stock_in_sync(world: World) -> None:
    receipt = world.publish()

    with world.ctx.db.reading() as session:
        listing = session.get(Listing, world.listing_id)
        assert listing is not None
        external = listing.external_id
    [product] = world.standin.products(world.store_id)
    assert external == receipt.external_id == str(product["id"]) and product["name"]["es"] == "Remera básica"
    assert product["attributes"] == [{"es": "Talle"}]
    variants = world.variants()
    assert (variants["REM-S"]["stock"], variants["REM-M"]["stock"]) == (10, 5)
    assert variants["REM-S"]["price"] == "100.00" and variants["REM-S"]["values"] == [{"es": "S"}]

    world.set_stock("REM-M", 2)
    world.publish()
    assert world.variants()["REM-M"]["stock"] == 2 and world.variants()["REM-S"]["stock"] == 10


def test_order_in_fulfilled_out_and_a_cancellation_gives_stock_back(world: World) -> None:
    world.publish()
    variants = world.variants()

    order = world.standin.place_order(world.store_id, [(variants["REM-S"]["id"], 2)])
    assert world.variants()["REM-S"]["stock"] == 8  # the store took its own stock

    assert world.apply_event("order/created", order["id"]) == "created"
    assert world.apply_event("order/paid", order["id"]) in ("updated", "unchanged")
    assert world.quantity("REM-S") == 8 and world.quantity("REM-M") == 5  # moved once, on the right variation

    calls = len(world.standin.calls)
    world.publish()  # the hub's stock now equals the store's: only the read
    assert [c[0] for c in world.standin.calls[calls:]] == ["GET"]

    world.push(order["id"], st.READY_TO_SHIP)
    world.push(order["id"], st.SHIPPED, tracking_number="OA123", tracking_url="https://track.example/OA123")
    shipped = world.standin.order(world.store_id, order["id"])
    assert shipped["shipping_status"] in ("fulfilled", "shipped")
    assert shipped["shipping_tracking_number"] == "OA123"

    second = world.standin.place_order(world.store_id, [(variants["REM-M"]["id"], 1)])
    world.apply_event("order/created", second["id"])
    assert world.quantity("REM-M") == 4 and world.variants()["REM-M"]["stock"] == 4
    world.push(second["id"], st.CANCELLED)
    cancelled = world.standin.order(world.store_id, second["id"])
    assert cancelled["status"] == "cancelled" and world.variants()["REM-M"]["stock"] == 5  # the store restocked
    assert world.apply_event("order/cancelled", second["id"]) == "updated"
    assert world.quantity("REM-M") == 5  # and the hub gave its unit back
    with world.ctx.db.reading() as session:
        row = session.scalar(select(Order).where(Order.external_order_id == str(second["id"])))
        assert row is not None and row.status == st.CANCELLED


def test_existing_products_are_linked_by_sku(world: World) -> None:
    headers = {"Authentication": f"bearer {world.token}", "User-Agent": "Seller (ops@seller.example)"}
    own = {
        "name": {"es": "Remera de la tienda"},
        "attributes": [{"es": "Talle"}],
        "variants": [
            {"price": "90.00", "stock": 3, "sku": "REM-S", "values": [{"es": "S"}]},
            {"price": "90.00", "stock": None, "sku": "REM-XL", "values": [{"es": "XL"}]},
        ],
    }
    created = world.http.post(f"{API}/v1/{world.store_id}/products", json=own, headers=headers).json()
    unknown = {"name": {"es": "Otra"}, "variants": [{"price": "1.00", "stock": 1, "sku": "NOPE"}]}
    world.http.post(f"{API}/v1/{world.store_id}/products", json=unknown, headers=headers)
    with world.ctx.db.writing() as session:
        session.delete(session.get(Listing, world.listing_id))  # the hub has not published it

    stats = link_listings(world.ctx.db, world.settings, world.channel, world.account_id, world.context.marketplace)

    assert (stats.linked, stats.unmatched) == (1, 1)
    with world.ctx.db.reading() as session:
        [listing] = session.scalars(select(Listing).where(Listing.account_id == world.account_id)).all()
        assert listing.external_id == str(created["id"]) and listing.title == "Remera de la tienda"

    # Its first push touches only what the hub knows: REM-S's price and stock; REM-XL (unknown, infinite) stays.
    world.listing_id = listing.id
    world.publish()
    variants = world.variants(created["id"])
    assert variants["REM-S"]["stock"] == 10 and variants["REM-S"]["price"] == "100.00"
    assert variants["REM-XL"]["stock"] is None and variants["REM-XL"]["price"] == "90.00"


def test_a_store_on_2025_03_ships_through_its_fulfillment_order(world: World) -> None:
    world.publish()
    variants = world.variants()
    order = world.standin.place_order(world.store_id, [(variants["REM-S"]["id"], 1)])
    with world.ctx.db.writing() as session:
        row = session.scalar(select(ChannelConnection).where(ChannelConnection.account_id == world.account_id))
        assert row is not None
        row.api_version = "2025-03"
    assert world.apply_event("order/created", order["id"]) == "created"
    assert world.quantity("REM-S") == 9

    world.push(order["id"], st.SHIPPED, tracking_number="OA9", tracking_url="https://track.example/OA9")

    shipped = world.standin.order(world.store_id, order["id"], "2025-03")
    assert shipped["shipping_status"] == "shipped"
    assert not [c for c in world.standin.calls if c[1].endswith(("/pack", "/fulfill"))]
    [patch] = [c for c in world.standin.calls if c[0] == "PATCH" and "/fulfillment-orders/" in c[1]][-1:]
    assert patch[2] == 200


def test_edits_after_publishing_send_only_product_fields_and_changed_variants(world: World) -> None:
    world.publish()
    [product] = world.standin.products(world.store_id)
    calls = len(world.standin.calls)
    world.publish()  # nothing changed: only the read
    assert [c[0] for c in world.standin.calls[calls:]] == ["GET"]

    with world.ctx.db.writing() as session:
        listing = session.get(Listing, world.listing_id)
        assert listing is not None
        listing.title = "Remera premium"
        master = session.get(Product, listing.product_id)
        assert master is not None
        master.description = "<p>Algodón peinado</p>"
        child = session.get(Product, world.children["REM-M"])
        assert child is not None
        child.gtin = "7790001000028"
    calls = len(world.standin.calls)
    world.publish()

    sent = [(c[0], c[1]) for c in world.standin.calls[calls:]]
    base = f"/v1/{world.store_id}/products/{product['id']}"
    variant_m = world.variants()["REM-M"]
    assert sent == [("GET", base), ("PUT", f"{base}/variants/{variant_m['id']}"), ("PUT", base)]
    [edited] = world.standin.products(world.store_id)
    assert edited["name"]["es"] == "Remera premium" and edited["description"]["es"] == "<p>Algodón peinado</p>"
    assert variant_m["barcode"] == "7790001000028" and world.variants()["REM-S"]["barcode"] is None
    assert len(edited["variants"]) == 2 and edited["published"] is True

    calls = len(world.standin.calls)
    world.publish()  # what the hub sent is what the store shows: no write
    assert [c[0] for c in world.standin.calls[calls:]] == ["GET"]


# --- stock locations ------------------------------------------------------------------------------------------


def _levels(variant: dict[str, Any]) -> dict[str, int | None]:
    return {level["location_id"]: level["stock"] for level in variant["inventory_levels"]}


def test_a_store_with_one_location_gets_stock_without_a_location(world: World) -> None:
    summary = world.channel.reconcile(world.context)

    with world.ctx.db.reading() as session:
        [row] = session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == world.account_id))
        assert row.locations is not None and len(row.locations) == 1 and row.locations[0]["default"] is True
    assert "1 location(s), stock to the only location" in summary
    world.publish()
    world.set_stock("REM-M", 3)
    calls = len(world.standin.calls)
    world.publish()
    assert world.variants()["REM-M"]["stock"] == 3
    assert [c[0] for c in world.standin.calls[calls:]] == ["GET", "PATCH"]


def test_several_locations_stock_goes_to_the_chosen_one_and_the_others_are_left(world: World) -> None:
    default = world.standin.add_location(world.store_id, "Depósito Norte")
    world.channel.reconcile(world.context)
    with world.ctx.db.reading() as session:
        [row] = session.scalars(select(ChannelConnection).where(ChannelConnection.account_id == world.account_id))
        assert row.locations is not None
        main = row.locations[0]["id"]
    assert [len(row.locations), row.locations[1]["id"]] == [2, default]

    world.publish()  # created with its stock at the store's default location
    assert _levels(world.variants()["REM-S"]) == {main: 10}

    with world.ctx.db.writing() as session:
        chosen = upkeep.choose_location(session, world.account_id, MARKETPLACE, "depósito norte")
    assert chosen.stock_location == default
    world.publish()  # the chosen location gets the hub's stock; the default one keeps its own
    assert _levels(world.variants()["REM-S"]) == {main: 10, default: 10}
    world.set_stock("REM-S", 4)
    world.publish()
    assert _levels(world.variants()["REM-S"]) == {main: 10, default: 4}
    [product] = world.standin.products(world.store_id)
    calls = len(world.standin.calls)
    world.publish()  # read back at the chosen location: nothing differs
    assert [c[0] for c in world.standin.calls[calls:]] == ["GET"]

    # Reading the product takes the chosen location's stock (4 + 5), not the store's total.
    result = world.channel.read_notice(
        world.context, ChannelNotice(topic="product/updated", resource=str(product["id"]))
    )
    assert result.listings[0].available_quantity == 9

    with world.ctx.db.writing() as session, pytest.raises(upkeep.UnknownLocation):
        upkeep.choose_location(session, world.account_id, MARKETPLACE, "Depósito Sur")


# --- webhooks reconciled periodically --------------------------------------------------------------------------


def test_the_backstop_reconciles_the_webhooks_when_due(world: World) -> None:
    settings = world.settings.model_copy(update={"public_url": "https://hub.example", "channel_reconcile_seconds": 60})
    context = replace(world.context, settings=settings)
    feed = Feed(world.account_id, world.context.marketplace, str(world.store_id))
    now = clock.utcnow()

    done = backstop.reconcile_due(world.ctx.db, settings, feed, now=now, channel=world.channel)
    assert done is not None and f"{len(auth.WEBHOOK_EVENTS)} created" in done
    hooks = world.http.get(f"{API}/v1/{world.store_id}/webhooks", headers=_headers(world)).json()
    assert {h["event"] for h in hooks} == set(auth.WEBHOOK_EVENTS)
    assert {h["url"] for h in hooks} == {"https://hub.example/channels/tiendanube/webhooks"}

    # Someone deletes one in the store: not due yet, then due again and it is back.
    world.http.delete(f"{API}/v1/{world.store_id}/webhooks/{hooks[0]['id']}", headers=_headers(world))
    assert backstop.reconcile_due(world.ctx.db, settings, feed, now=now, channel=world.channel) is None
    later = now + timedelta(seconds=61)
    done = backstop.reconcile_due(world.ctx.db, settings, feed, now=later, channel=world.channel)
    assert done is not None and "1 created" in done
    assert len(world.http.get(f"{API}/v1/{world.store_id}/webhooks", headers=_headers(world)).json()) == len(hooks)

    # The hub moved: every webhook is pointed at the new address.
    moved = settings.model_copy(update={"public_url": "https://new-hub.example"})
    done = world.channel.reconcile(replace(context, settings=moved))
    assert f"{len(auth.WEBHOOK_EVENTS)} fixed" in done
    hooks = world.http.get(f"{API}/v1/{world.store_id}/webhooks", headers=_headers(world)).json()
    assert {h["url"] for h in hooks} == {"https://new-hub.example/channels/tiendanube/webhooks"}


def _headers(world: World) -> dict[str, str]:
    return {"Authentication": f"bearer {world.token}", "User-Agent": "Hub (ops@hub.example)"}
