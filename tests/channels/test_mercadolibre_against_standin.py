"""The Mercado Libre channel against the local stand-in (no fake in between): the seller's existing items
linked to the hub's products by SELLER_SKU (and pushed to afterwards without reading them first), the orders
backstop, and the notifications Mercado Libre kept because they could not be delivered, read back from
``/missed_feeds``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ListingPush
from alephee.sync.links import link_listings
from tests.channels.mercadolibre_standin_kit import MLA, Linked, linked_standin
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant


@pytest.fixture
def linked(ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant]) -> Iterator[Linked]:
    with linked_standin(ctx, tmp_path, make_tenant) as kit:
        yield kit


def sku_item(sku: str, **overrides: Any) -> dict[str, Any]:
    return item_body(attributes=[{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": sku}],
                     **overrides)  # fmt: skip


def test_missed_notifications_are_read_back_for_this_seller(linked: Linked) -> None:
    item = linked.standin.create_item(sku_item("MATE-1"))
    order = linked.standin.buy(item["id"], 2)
    # Nothing could be delivered (the stand-in has no callback URL): every notification is in missed_feeds.
    notices = linked.channel.missed_notices(linked.ctx)
    pointers = {(n.topic, n.resource) for n in notices}
    assert ("orders_v2", f"/orders/{order['id']}") in pointers
    assert ("items", f"/items/{item['id']}") in pointers
    assert all(n.seller_id == str(linked.standin.seller.id) for n in notices)


def test_the_sellers_items_are_listed_with_their_skus(linked: Linked) -> None:
    created = [linked.standin.create_item(sku_item(f"SKU-{n}", available_quantity=n + 1)) for n in range(3)]
    page = linked.channel.list_listings(linked.ctx, None)
    seen = {state.external_id: state for state in page.listings}
    while page.has_more:
        page = linked.channel.list_listings(linked.ctx, page.cursor)
        seen |= {state.external_id: state for state in page.listings}
    assert {item["id"] for item in created} <= set(seen)
    first = seen[created[0]["id"]]
    assert (first.sku, first.available_quantity, first.status) == ("SKU-0", 1, "active")


def test_the_orders_backstop_reads_a_sale(linked: Linked) -> None:
    item = linked.standin.create_item(sku_item("YERBA"))
    order = linked.standin.buy(item["id"], 1)
    page = linked.channel.pull_orders(linked.ctx, None)
    found = {entry.external_order_id: entry for entry in page.orders}
    entry = found[str(order["id"])]
    assert entry.status == "paid" and entry.items[0].external_listing_id == item["id"]
    assert entry.items[0].sku == "YERBA" and entry.external_shipping_id == str(order["shipping"]["id"])


def test_a_linked_item_is_pushed_without_reading_it_first(linked: Linked, ctx: AppContext) -> None:
    item = linked.standin.create_item(sku_item("TERMO", available_quantity=4))
    with ctx.db.writing() as session:
        add_product(session, linked.tenant.account_id, "TERMO", quantity=4)
    assert linked.ctx.settings is not None
    link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    with ctx.db.writing() as session:
        listing = session.scalars(select(Listing).where(Listing.external_id == item["id"])).one()
        kept = listing.marketplace_state
        assert kept is not None and (kept["id"], kept["available_quantity"], kept["status"]) == (
            item["id"],
            4,
            "active",
        )
        listing.available_quantity = 9
        listing_id = listing.id

    sent: list[httpx.Request] = []
    linked.http.event_hooks["request"].append(sent.append)
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=listing_id))

    assert [(r.method, r.url.path) for r in sent] == [("PUT", f"/items/{item['id']}")]
    assert receipt.state is not None and receipt.state["available_quantity"] == 9
    assert receipt.state["version"] >= kept["version"]
    with linked.standin.store.begin() as tx:
        stored = tx.get("item", item["id"])
    assert stored is not None and stored["available_quantity"] == 9
