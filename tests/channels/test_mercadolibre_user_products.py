"""A variation master whose variations sell at different prices, published on Mercado Libre in the User Products
model through the real connector against the local stand-in: one item per variation (tagged
``user_product_listing``, ``family_name`` and no title, its own price, stock and SKU), each item's id on its
variation's child listing; a variation's stock change PUTs only its item; a sale of one item moves the stock of
that variation once; a refusal closes what was created, a transient failure keeps it and the retry creates the
rest; items of the model link by their own SKU; their topics are stored and counted as ignored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alephee.channels.mercadolibre import user_products as up
from alephee.http.context import AppContext
from alephee.listings import statuses
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.listings.status_updates import update_statuses
from alephee.marketplaces.contract import (
    ChannelNotice,
    ConnectionHeld,
    ListingPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.orders.models import Order
from alephee.products import hooks
from alephee.products.models import ProductPrice
from alephee.products.stock import move_stock
from alephee.sync.inbox import InboxReader
from alephee.sync.links import link_listings
from alephee.sync.worker import Worker
from tests.channels.mercadolibre_standin_kit import MLA, Linked, notify
from tests.channels.test_mercadolibre_variations import catalog, children_of, sent_to, stored_item
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import quantity_of

PRICED = {
    "REM-NEG-M": ({"Color": "Negro", "Talle": "M"}, 3, "15900"),
    "REM-NEG-L": ({"Color": "Negro", "Talle": "L"}, 0, "16900"),
    "REM-NEG-XL": ({"Color": "Negro", "Talle": "XL"}, 2, "17900"),
}


def worker(linked: Linked, ctx: AppContext) -> Worker:
    assert linked.ctx.settings is not None
    return Worker(ctx.db, linked.ctx.settings, pull=False)


def items_by_sku(ctx: AppContext, linked: Linked, listing_id: int, skus: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The stand-in's item of each variation, found through its child listing's external id."""
    children = children_of(ctx, listing_id)
    return {sku: stored_item(linked, children[pid].external_id) for sku, pid in skus.items()}


def failed_rows(ctx: AppContext) -> list[str]:
    with ctx.db.reading() as session:
        return [str(r.last_error) for r in session.scalars(select(OutboxMessage)) if r.status == "failed"]


def test_variations_at_different_prices_are_published_as_one_item_each(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    sent = sent_to(linked)
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))

    posts = [r for r in sent if r.method == "POST" and r.url.path == "/items"]
    assert len(posts) == 3
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    assert {sku: (i["price"], i["available_quantity"]) for sku, i in found.items()} == {
        "REM-NEG-M": (15900, 3),
        "REM-NEG-L": (16900, 0),
        "REM-NEG-XL": (17900, 2),
    }
    medium = found["REM-NEG-M"]
    assert "user_product_listing" in medium["tags"] and medium["user_product_id"].startswith("MLAU")
    assert medium["family_name"] == "Remera" and not medium["variations"]
    assert {(a["id"], a["value_name"]) for a in medium["attributes"]} >= {
        ("COLOR", "Negro"),
        ("SIZE", "M"),
        ("SELLER_SKU", "REM-NEG-M"),
    }
    assert [p["url"] for p in medium["pictures"]] == [
        "https://img.example/rem-neg-m.jpg",
        "https://img.example/remera.jpg",
    ]
    assert len({i["user_product_id"] for i in found.values()}) == 3
    assert len({i["family_id"] for i in found.values()}) == 1
    # The out-of-stock variation's item is created paused for stock, as Mercado Libre does.
    assert (found["REM-NEG-L"]["status"], found["REM-NEG-L"]["sub_status"]) == ("paused", ["out_of_stock"])
    # The family's id (the first variation's user product) on the parent listing; descriptions on every item.
    assert receipt.external_id == medium["user_product_id"]
    with ctx.db.reading() as session:
        parent = session.get(Listing, shop.listing_id)
        assert parent is not None and parent.external_id == receipt.external_id
    described = [r.url.path for r in sent if r.url.path.endswith("/description")]
    assert sorted(described) == sorted(f"/items/{i['id']}/description" for i in found.values())
    # Pushing the parent again creates nothing and writes nothing: each item is its child listing's.
    again = sent_to(linked)
    linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    assert not [r for r in again if r.method in ("POST", "PUT")]


def test_a_variations_stock_change_puts_only_its_item(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    worker(linked, ctx).drain()
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    assert len(found) == 3 and not failed_rows(ctx)

    sent = sent_to(linked)
    with ctx.db.writing() as session:
        move_stock(session, linked.tenant.account_id, shop.children["REM-NEG-XL"], 4)
    worker(linked, ctx).drain()

    writes = [(r.method, r.url.path) for r in sent if r.method in ("POST", "PUT")]
    assert writes == [("PUT", f"/items/{found['REM-NEG-XL']['id']}")]
    assert stored_item(linked, found["REM-NEG-XL"]["id"])["available_quantity"] == 6
    assert stored_item(linked, found["REM-NEG-M"]["id"])["available_quantity"] == 3
    assert not failed_rows(ctx)


def test_a_sale_of_one_item_moves_that_variations_stock_once(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    worker(linked, ctx).drain()
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    order = linked.standin.buy(found["REM-NEG-M"]["id"], 2)
    assert order["order_items"][0]["item"]["user_product_id"] == found["REM-NEG-M"]["user_product_id"]

    notify(ctx, linked, "orders_v2", f"/orders/{order['id']}")
    notify(ctx, linked, "orders_v2", f"/orders/{order['id']}")  # delivered twice: stored once
    worker(linked, ctx).drain()
    with ctx.db.reading() as session:
        row = session.scalar(select(Order).where(Order.external_order_id == str(order["id"])))
        assert row is not None
        assert quantity_of(session, shop.children["REM-NEG-M"]) == 1
        assert quantity_of(session, shop.children["REM-NEG-XL"]) == 2
    assert not failed_rows(ctx)


def test_a_refused_variation_closes_the_items_created(
    ctx: AppContext, linked: Linked, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = catalog(ctx, linked, PRICED)
    original = up.item_body

    def refused_large(*args: Any) -> dict[str, Any]:
        body = original(*args)
        if any(a["value_name"] == "REM-NEG-L" for a in body["attributes"]):
            body["price"] = 0  # Mercado Libre refuses it: item.price.invalid
        return body

    monkeypatch.setattr(up, "item_body", refused_large)
    with pytest.raises(PermanentDeliveryError, match=r"variation REM-NEG-L.*item.price.invalid.*closed: REM-NEG-M MLA"):
        linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    with linked.standin.store.begin() as tx:
        created = [tx.get("item", f"MLA{1000000001 + n}") for n in range(3)]
    assert [i["status"] for i in created if i is not None] == ["closed"]
    assert not children_of(ctx, shop.listing_id)
    with ctx.db.reading() as session:
        parent = session.get(Listing, shop.listing_id)
        assert parent is not None and parent.external_id.startswith(PENDING_PREFIX)


def test_a_transient_failure_keeps_the_items_and_the_retry_creates_the_rest(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)

    def fail_next(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/description") and not fail_next.done:  # type: ignore[attr-defined]
            fail_next.done = True  # type: ignore[attr-defined]
            linked.standin.add_fault("/items", 503, 1, "POST")

    fail_next.done = False  # type: ignore[attr-defined]
    linked.http.event_hooks["response"].append(fail_next)
    with pytest.raises(TransientDeliveryError, match=r"publish variation REM-NEG-L.*created so far.*REM-NEG-M MLA"):
        linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    kept = children_of(ctx, shop.listing_id)
    assert list(kept) == [shop.children["REM-NEG-M"]]

    sent = sent_to(linked)
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    assert len([r for r in sent if r.method == "POST" and r.url.path == "/items"]) == 2
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    assert found["REM-NEG-M"]["id"] == kept[shop.children["REM-NEG-M"]].external_id
    assert receipt.external_id == found["REM-NEG-M"]["user_product_id"]


def test_items_of_the_model_link_by_their_own_sku(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    bodies = []
    for sku, price in (("REM-NEG-M", 15900), ("REM-NEG-L", 16900)):
        body = item_body(family_name="Remera", price=price, tags=["user_product_listing"])
        del body["title"]
        body["attributes"] = [{"id": "SIZE", "value_name": sku[-1]}, {"id": "SELLER_SKU", "value_name": sku}]
        bodies.append(body)
    made = linked.standin.create_items(bodies)
    assert linked.ctx.settings is not None
    stats = link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    assert stats.linked == 2
    with ctx.db.reading() as session:
        rows = {r.external_id: r for r in session.scalars(select(Listing).where(Listing.parent_id.is_(None)))}
    assert rows[made[0]["id"]].product_id == shop.children["REM-NEG-M"]
    assert rows[made[1]["id"]].product_id == shop.children["REM-NEG-L"]
    assert rows[made[1]["id"]].price == 16900


def test_user_product_topics_are_stored_and_counted_as_ignored(ctx: AppContext, linked: Linked) -> None:
    resource = "/user-products/MLAU1000000001"
    notify(ctx, linked, "user_products", resource, ["updated"])
    notify(ctx, linked, "user_products", resource, ["updated"])
    notify(ctx, linked, "stock-location", f"{resource}/stock")
    assert linked.ctx.settings is not None
    stats = InboxReader(ctx.db, linked.ctx.settings).run()
    assert (stats.done, stats.ignored) == (2, 2)
    with ctx.db.reading() as session:
        rows = session.scalars(select(ChannelNotification).order_by(ChannelNotification.id)).all()
    assert [(r.topic, r.status) for r in rows] == [("user_products", "done"), ("stock-location", "done")]
    read = linked.channel.read_notice(linked.ctx, ChannelNotice("stock-location", f"{resource}/stock", "1"))
    assert read.ignored == f"topic stock-location: {up.FOLLOWED_THROUGH_ITEMS}"


def set_status(ctx: AppContext, linked: Linked, external_id: str, target: str) -> None:
    """``PUT /v2/productlistings/status`` on one listing (its child listings follow)."""
    settings = linked.ctx.settings
    assert settings is not None
    element = {"ExternalPublications": [external_id], "Status": statuses.table(settings).code(target)}
    with ctx.db.writing() as session:
        results, changed = update_statuses(session, settings, linked.tenant.account_id, [element], False)
    assert changed, results


def test_pausing_and_reactivating_the_family_moves_every_item(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    family = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id)).external_id
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    worker(linked, ctx).drain()

    set_status(ctx, linked, family, statuses.PAUSED)
    worker(linked, ctx).drain()
    assert {sku: stored_item(linked, i["id"])["status"] for sku, i in found.items()} == dict.fromkeys(PRICED, "paused")

    set_status(ctx, linked, family, statuses.ACTIVE)
    worker(linked, ctx).drain()
    after = {sku: stored_item(linked, i["id"]) for sku, i in found.items()}
    # Each item back as its stock allows: the one without stock waits paused for stock, and restocking it
    # reactivates it.
    assert {sku: i["status"] for sku, i in after.items()} == {
        "REM-NEG-M": "active",
        "REM-NEG-L": "paused",
        "REM-NEG-XL": "active",
    }
    large = children_of(ctx, shop.listing_id)[shop.children["REM-NEG-L"]]
    assert (large.status, large.status_reason) == (statuses.PAUSED, statuses.REASON_STOCK)
    with ctx.db.writing() as session:
        move_stock(session, linked.tenant.account_id, shop.children["REM-NEG-L"], 2)
    worker(linked, ctx).drain()
    restocked = stored_item(linked, found["REM-NEG-L"]["id"])
    assert (restocked["status"], restocked["available_quantity"]) == ("active", 2)
    assert not failed_rows(ctx)


def test_a_connection_held_midway_keeps_every_item_created(
    ctx: AppContext, linked: Linked, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = catalog(ctx, linked, PRICED)
    original = up._finish

    def held_on_large(api: Any, data: Any, item_id: str, item: dict[str, Any]) -> dict[str, Any]:
        if any(a.get("value_name") == "REM-NEG-L" for a in item["attributes"]):
            raise ConnectionHeld("the connection was disconnected")
        return original(api, data, item_id, item)

    monkeypatch.setattr(up, "_finish", held_on_large)
    with pytest.raises(ConnectionHeld):
        linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    kept = children_of(ctx, shop.listing_id)
    assert set(kept) == {shop.children["REM-NEG-M"], shop.children["REM-NEG-L"]}
    assert all(child.external_id.startswith("MLA") for child in kept.values())


def test_a_variations_new_price_puts_only_its_item(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, PRICED)
    worker(linked, ctx).drain()
    found = items_by_sku(ctx, linked, shop.listing_id, shop.children)
    xl = shop.children["REM-NEG-XL"]
    sent = sent_to(linked)
    with ctx.db.writing() as session:
        row = session.scalars(select(ProductPrice).where(ProductPrice.product_id == xl)).one()
        row.price = row.price_with_taxes = Decimal("18900")
        session.flush()
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=linked.tenant.account_id,
                price_product_ids=frozenset({xl}),
                price_list_ids=frozenset({row.price_list_id}),
            ),
        )
    worker(linked, ctx).drain()

    writes = [(r.method, r.url.path) for r in sent if r.method in ("POST", "PUT")]
    assert writes == [("PUT", f"/items/{found['REM-NEG-XL']['id']}")]
    assert stored_item(linked, found["REM-NEG-XL"]["id"])["price"] == 18900
    assert stored_item(linked, found["REM-NEG-M"]["id"])["price"] == 15900
    assert not failed_rows(ctx)
