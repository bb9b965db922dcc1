"""The Mercado Libre channel against the local stand-in (no fake in between): the seller's existing items
linked to the hub's products by SELLER_SKU (and pushed to afterwards without reading them first), the orders
backstop, and the notifications Mercado Libre kept because they could not be delivered, read back from
``/missed_feeds``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.channels import connections
from alephee.channels.mercadolibre.channel import MercadoLibreChannel
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn, create_app
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext, ListingPush, MarketplaceRef
from alephee.sync.links import link_listings
from tests.fixtures.database import make_settings
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

APP = "5387223166827464"
SECRET = "s3cret"
MLA = MarketplaceRef(id=1, name="Mercado Libre Argentina", family="mercadolibre", connector="mercadolibre",
                     site_id="MLA", country_id="AR")  # fmt: skip


@dataclass
class Linked:
    """A tenant connected (tokens issued by the stand-in) and the channel talking to that stand-in."""

    tenant: Tenant
    standin: MercadoLibreStandIn
    channel: MercadoLibreChannel
    ctx: ChannelContext
    http: TestClient


@pytest.fixture
def linked(ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant]) -> Iterator[Linked]:
    standin = MercadoLibreStandIn(tmp_path / "ml.sqlite3", client_id=APP, client_secret=SECRET)
    http = TestClient(create_app(standin), base_url="http://standin.example")
    settings = make_settings(
        ctx.settings.database_url,
        mercadolibre_api_url="http://standin.example",
        mercadolibre_client_id=APP,
        mercadolibre_client_secret=SECRET,
    )
    tenant = make_tenant(marketplaces=(1,))
    grant = standin.issue_token()
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            settings,
            connections.Grant(
                account_id=tenant.account_id,
                marketplace_id=1,
                connector="mercadolibre",
                access_token=str(grant["access_token"]),
                refresh_token=str(grant["refresh_token"]),
                expires_in=int(grant["expires_in"]),
                seller_id=standin.seller.id,
                nickname=standin.seller.nickname,
                site_id="MLA",
            ),
        )

    def client(given: Settings) -> MercadoLibreClient:
        return MercadoLibreClient(given, http)

    channel = MercadoLibreChannel(client_factory=client)
    context = ChannelContext(account_id=tenant.account_id, marketplace=MLA, db=ctx.db, settings=settings)
    yield Linked(tenant=tenant, standin=standin, channel=channel, ctx=context, http=http)
    http.close()
    standin.close()


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
